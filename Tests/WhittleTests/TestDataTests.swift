import Foundation
import Testing
import WhittleIR
import WhittleKit
import WhittleNumPy
import WhittleONNX

/// ONNX test data (`test_data_set_N`: serialized TensorProtos) through `run` and `verify`: inputs of
/// types NumPy lacks, expected outputs compared, outputs written as `.pb` where `.npy` cannot hold them.
struct TestDataTests {
    /// A folder with the bfloat16 classifier of HalfPrecisionTests and a test-data set of its own
    /// outputs (from the interpreter), the model at `folder/model.onnx`.
    static func bfloat16Case(_ name: String) throws -> (folder: String, data: String, outputs: [String: NDArray]) {
        let folder = CBackendTests.workDirectory("test-data-\(name)")
        let data = folder + "/test_data_set_0"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try ONNXWriter.write(try HalfPrecisionTests.model(.bfloat16), to: folder + "/model.onnx")
        let analyzed = try ModelLoader.load(path: folder + "/model.onnx")
        let input = try HalfPrecisionTests.input(.bfloat16)
        let outputs = try ModelRunner.run(analyzed, inputs: ["x": input])
        try FileOutput.write(try ONNXWriter.serializeTensor(try input.tensor(), name: "x"), to: data + "/input_0.pb")
        for (k, output) in analyzed.graph.outputs.enumerated() {
            let value = try #require(outputs[output.name])
            try FileOutput.write(try ONNXWriter.serializeTensor(try value.tensor(), name: output.name), to: data + "/output_\(k).pb")
        }
        return (folder, data, outputs)
    }

    @Test func runComparesWithTheTestDataAndWritesTypesNumPyLacksAsPB() throws {
        let (folder, data, outputs) = try Self.bfloat16Case("run")
        let run = try CommandLineTests.run(["run", folder + "/model.onnx", "--test-data", data, "-o", folder + "/out"])
        #expect(run.status == 0, "\(run.stdout) \(run.stderr)")
        #expect(run.stdout.contains("probs: matches the test data") && run.stdout.contains("f: matches the test data"), "\(run.stdout)")
        // bfloat16 has no .npy dtype: the outputs are TensorProtos, equal to the interpreter's.
        for name in ["probs", "f"] {
            let written = try TestData.read(folder + "/out/\(name).pb")
            #expect(written.elementType == .bfloat16 && written.doubles == outputs[name]?.doubles)
            #expect(!FileManager.default.fileExists(atPath: folder + "/out/\(name).npy"))
        }
        // One input given alone as a .pb file.
        let single = try CommandLineTests.run(["run", folder + "/model.onnx", "--input", "x=\(data)/input_0.pb", "-o", folder + "/single"])
        #expect(single.status == 0, "\(single.stderr)")
        #expect(try TestData.read(folder + "/single/probs.pb").doubles == outputs["probs"]?.doubles)
    }

    @Test func aDifferentExpectedOutputFails() throws {
        let (folder, data, outputs) = try Self.bfloat16Case("differs")
        let probs = try #require(outputs["probs"])
        let changed = NDArray(.bfloat16, shape: probs.shape, values: probs.doubles.map { $0 + 0.25 })
        try FileOutput.write(try ONNXWriter.serializeTensor(try changed.tensor(), name: "probs"), to: data + "/output_0.pb")
        let run = try CommandLineTests.run(["run", folder + "/model.onnx", "--test-data", data])
        #expect(run.status == 1)
        #expect(run.stdout.contains("probs: differs from the test data: element 0") && run.stdout.contains("FAIL"), "\(run.stdout)")
        #expect(run.stdout.contains("f: matches the test data"))
    }

    @Test func verifyComparesTheCWithTheTestData() throws {
        let (folder, data, _) = try Self.bfloat16Case("verify")
        let verify = try CommandLineTests.run(["verify", folder + "/model.onnx", "--test-data", data])
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        #expect(verify.stdout.contains("probs (test data): max abs error") && verify.stdout.contains("f (test data): max abs error"), "\(verify.stdout)")
        #expect(!verify.stdout.contains("FAIL"))
    }

    @Test func malformedTestDataIsRefusedWithTheReason() throws {
        let (folder, data, _) = try Self.bfloat16Case("malformed")
        // A gap in the numbering.
        try FileManager.default.moveItem(atPath: data + "/input_0.pb", toPath: data + "/input_1.pb")
        let gap = try CommandLineTests.run(["run", folder + "/model.onnx", "--test-data", data])
        #expect(gap.status == 1 && gap.stderr.contains("input_0.pb is missing"), "\(gap.stderr)")
        // Not a TensorProto.
        try FileOutput.write(Array("not a tensor".utf8), to: data + "/input_0.pb")
        try FileManager.default.removeItem(atPath: data + "/input_1.pb")
        let garbage = try CommandLineTests.run(["run", folder + "/model.onnx", "--test-data", data])
        #expect(garbage.status == 1 && garbage.stderr.contains("input_0.pb"), "\(garbage.stderr)")
        // Two sources of inputs at once.
        let both = try CommandLineTests.run(["run", folder + "/model.onnx", "--test-data", data, "--inputs", "x.npz"])
        #expect(both.status != 0 && both.stderr.contains("give one of"), "\(both.stderr)")
        // A float tensor where the model takes bfloat16.
        let wrong = NDArray(.int32, shape: [1, 3, 8, 8], values: Array(repeating: 1, count: 192))
        try FileOutput.write(try ONNXWriter.serializeTensor(try wrong.tensor(), name: "x"), to: data + "/input_0.pb")
        let typed = try CommandLineTests.run(["run", folder + "/model.onnx", "--test-data", data])
        #expect(typed.status == 1 && typed.stderr.contains("does not match input \"x\""), "\(typed.stderr)")
    }

    @Test func typesNumPyHasStayNPY() throws {
        let folder = CBackendTests.workDirectory("test-data-npy")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let array = NDArray(.int8, shape: [2, 2], values: [1, -2, 3, -4])
        #expect(try TestData.write(array, name: "a", to: folder, base: "a") == "a.npy")
        #expect(try TestData.read(folder + "/a.npy").ints == [1, -2, 3, -4])
        let packed = NDArray(.int4, shape: [3], values: [1, -2, 7])
        #expect(try TestData.write(packed, name: "b", to: folder, base: "b") == "b.pb")
        let back = try TestData.read(folder + "/b.pb")
        #expect(back.elementType == .int4 && back.ints == [1, -2, 7])
    }
}
