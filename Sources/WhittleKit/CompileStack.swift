import Foundation
import WhittleIR

/// The worst-case stack of `NAME_run` at compile time, for bare-metal targets built by GCC: the
/// model's C is compiled (not linked) by the target's compiler with its flags and
/// `-fcallgraph-info=su`, and the deepest path over that call graph is summed (`StackUsage`). It is
/// the model's own stack, kernels included; the caller's frames are part of the RAM the target
/// keeps for the rest of the program.
public enum CompileStack {
    /// Whether the target's stack is measured: bare-metal parts compiled by GCC.
    public static func applies(to target: TargetDescription) -> Bool {
        target.kind == "bare-metal" && target.compiler.hasSuffix("gcc")
    }

    /// The stack of `NAME_run`, or why it is unknown (no compiler, or a frame without a bound);
    /// nil for targets whose stack is not measured.
    public static func measure(_ compiled: CompiledModel, target: TargetDescription) -> Swift.Result<StackUsage, WhittleError>? {
        guard applies(to: target) else { return nil }
        guard TargetProgram.findTool(target.compiler) != nil else {
            return .failure(WhittleError(.io, "\(target.compiler) was not found on PATH, so the stack could not be measured"))
        }
        let fileManager = FileManager.default
        let folder = fileManager.temporaryDirectory.appendingPathComponent("whittle-stack-\(UUID().uuidString)").path
        defer { try? fileManager.removeItem(atPath: folder) }
        do {
            try ModelRunner.makeDirectory(folder)
            let name = compiled.bundle.name
            // Only the code: the weights file holds no function.
            for (file, data) in compiled.bundle.files where file == "\(name).c" || file == "\(name).h" {
                try data.write(to: URL(fileURLWithPath: folder).appendingPathComponent(file))
            }
            try ModelVerifier.run(target.compiler, arguments(target: target, source: "\(name).c", object: "\(name).o"),
                                  in: folder, what: "measuring the stack with \(target.compiler)")
            let text = try String(contentsOfFile: folder + "/\(name).ci", encoding: .utf8)
            return .success(try StackUsage.worst(from: "\(name)_run", callGraphs: [text]))
        } catch let error as WhittleError {
            return .failure(error)
        } catch {
            return .failure(WhittleError(.io, "measuring the stack: \(error.localizedDescription)"))
        }
    }

    /// The compile of one source as a user's build does it (the target's flags, C99), writing the
    /// call graph with frame sizes (`OBJECT` without `.o`, then `.ci`) and GCC's own `.su` file.
    public static func arguments(target: TargetDescription, source: String, object: String) -> [String] {
        target.cflags.filter { $0 != "-static" } + ["-std=c99", "-ffp-contract=off", "-c", source, "-o", object,
                                                   "-fstack-usage", "-fcallgraph-info=su"]
    }
}
