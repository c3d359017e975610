import Foundation

// whittle-fuzz TARGET [ARGS...]: the project's fuzz targets (onnx, npy, npz, target).
//
// Built for fuzzing (make fuzz: address sanitizer, coverage, -DWHITTLE_LIBFUZZER and libFuzzer's
// runtime without its main), it hands ARGS to libFuzzer (corpus folders, -runs=N, ...). Built
// normally, it runs each file or folder in ARGS through the target once: the regression mode the
// tests use for inputs that once failed.

let arguments = CommandLine.arguments
guard arguments.count >= 2, let selected = FuzzTargets.all[arguments[1]] else {
    FileHandle.standardError.write(Data("error: usage: whittle-fuzz \(FuzzTargets.all.keys.sorted().joined(separator: "|")) [FILES or libFuzzer arguments...]\n".utf8))
    exit(2)
}

#if WHITTLE_LIBFUZZER
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

nonisolated(unsafe) var current: @Sendable ([UInt8]) -> Void = { _ in }
current = selected
var cArguments: [UnsafeMutablePointer<CChar>?] = ([arguments[0]] + arguments.dropFirst(2)).map { strdup($0) } + [nil]
var argc = Int32(cArguments.count - 1)
let status = cArguments.withUnsafeMutableBufferPointer { buffer -> Int32 in
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = buffer.baseAddress
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        current(size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
        return 0
    }
}
exit(status)
#else
var files: [String] = []
for path in arguments.dropFirst(2) {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        FileHandle.standardError.write(Data("error: \(path): no such file or folder\n".utf8))
        exit(2)
    }
    if isDirectory.boolValue {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        files += names.sorted().map { path + "/" + $0 }
    } else {
        files.append(path)
    }
}
for file in files {
    guard let data = FileManager.default.contents(atPath: file) else { continue }
    selected([UInt8](data))
}
print("ran \(files.count) inputs through \(arguments[1])")
#endif
