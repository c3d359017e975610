import Foundation
import Testing
import WhittleIR
import WhittleNumPy

/// Data files built to hurt: archives that lie about their sizes, deflate bombs, and arrays whose
/// .npy header does not fit the 1.0 format.
struct HostileDataTests {
    @Test func longHeadersAreWrittenInVersionTwo() throws {
        // 25,000 dimensions of 1: a header of about 75 KB, past version 1.0's 16-bit length.
        let tensor = try Tensor(floats: [1.5], shape: [Int](repeating: 1, count: 25_000))
        let bytes = try NPYFormat.encode(tensor)
        #expect(bytes[6] == 2)
        let back = try NPYFormat.decode(bytes, what: "long.npy")
        #expect(back.shape.count == 25_000 && back.floats() == [1.5])
        #expect(try NPYFormat.encode(try Tensor(floats: [1, 2], shape: [2]))[6] == 1)
    }

    @Test func archivesCannotMakeUsAllocateWhatTheyClaim() throws {
        guard let python = QuantizerTests.python else {
            if ProcessInfo.processInfo.environment["WHITTLE_REQUIRE_TOOLS"] != nil { Issue.record(".venv is missing") }
            return
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("whittle-hostile-\(getpid())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // bomb.npz: a 10-float array whose deflate stream goes on to 200 MB of zeros.
        // liar.npz: a small array whose ZIP directory claims 4 GiB - 2.
        let script = """
        import io, struct, sys, zlib
        import numpy as np
        buf = io.BytesIO(); np.save(buf, np.arange(10, dtype=np.float32)); npy = buf.getvalue()
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        payload = c.compress(npy) + c.compress(bytes(200 * 1024 * 1024)) + c.flush()
        # Written by hand: local header + payload + central directory, sizes as the honest array's.
        name = b"x.npy"
        crc = zlib.crc32(npy)
        local = struct.pack("<IHHHHHIIIHH", 0x04034b50, 20, 0, 8, 0, 0, crc, len(payload), len(npy), len(name), 0) + name
        central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 20, 20, 0, 8, 0, 0, crc, len(payload), len(npy), len(name), 0, 0, 0, 0, 0, 0) + name
        body = local + payload
        end = struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, 1, 1, len(central), len(body), 0)
        open(sys.argv[1] + "/bomb.npz", "wb").write(body + central + end)
        small = zlib.compressobj(9, zlib.DEFLATED, -15); packed = small.compress(npy) + small.flush()
        local = struct.pack("<IHHHHHIIIHH", 0x04034b50, 20, 0, 8, 0, 0, crc, len(packed), 0xFFFFFFFE, len(name), 0) + name
        central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 20, 20, 0, 8, 0, 0, crc, len(packed), 0xFFFFFFFE, len(name), 0, 0, 0, 0, 0, 0) + name
        body = local + packed
        end = struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, 1, 1, len(central), len(body), 0)
        open(sys.argv[1] + "/liar.npz", "wb").write(body + central + end)
        """
        let made = try CommandLineTests.execute(python, ["-c", script, directory])
        #expect(made.status == 0, "\(made.stderr)")
        let bomb = try NPZArchive(path: directory + "/bomb.npz")
        let bombError = expectWhittleError { _ = try bomb.array("x") }
        #expect(bombError?.reason.contains("inflates past the 168 bytes it declares") == true, "\(String(describing: bombError))")
        let liar = try NPZArchive(path: directory + "/liar.npz")
        let liarError = expectWhittleError { _ = try liar.array("x") }
        #expect(liarError?.reason.contains("the array holds 168 bytes but the archive says 4294967294") == true, "\(String(describing: liarError))")
    }
}
