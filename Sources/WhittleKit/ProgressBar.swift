import Foundation

/// A one-line progress bar for long runs (calibration, evaluation), redrawn in place on a terminal.
public struct ProgressBar: Sendable {
    public let width: Int

    public init(width: Int = 30) { self.width = width }

    /// `calibrating [##########--------------------]  34/100`
    public func line(_ phase: String, done: Int, total: Int) -> String {
        let filled = total > 0 ? min(width, done * width / total) : width
        let count = String(done), digits = String(total).count
        return "\(phase) [\(String(repeating: "#", count: filled))\(String(repeating: "-", count: width - filled))] "
            + String(repeating: " ", count: max(0, digits - count.count)) + "\(count)/\(total)"
    }

    /// A progress callback that draws on standard error when it is a terminal, and stays silent otherwise
    /// (logs and pipes get no carriage-return noise).
    public static func standardError() -> (String, Int, Int) -> Void {
        guard isatty(2) != 0 else { return { _, _, _ in } }
        let bar = ProgressBar()
        return { phase, done, total in
            var text = "\r" + bar.line(phase, done: done, total: total)
            if done == total { text += "\n" }
            FileHandle.standardError.write(Data(text.utf8))
        }
    }
}
