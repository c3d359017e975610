import Foundation
import Testing
import WhittleKit

/// `compile --package`: an Arduino library whose files build the way the Arduino build compiles them,
/// PlatformIO's manifest, and a CMake package a consumer takes with add_subdirectory or find_package.
struct FirmwarePackageTests {
    static var cmakeInstalled: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/cmake") }

    /// What the Arduino core offers a sketch, reduced to what the generated sketch uses.
    static let arduinoHeader = """
        #pragma once
        #include <stdint.h>
        struct StubSerial {
            void begin(unsigned long) {}
            template <typename T> void print(T) {}
            template <typename T> void println(T) {}
        };
        extern StubSerial Serial;
        unsigned long micros(void);
        void delay(unsigned long);

        """
    /// The Arduino core's main: setup once, loop (here once).
    static let arduinoMain = """
        #include "Arduino.h"
        StubSerial Serial;
        unsigned long micros(void) { return 0; }
        void delay(unsigned long) {}
        void setup(void);
        void loop(void);
        int main(void) { setup(); loop(); return 0; }

        """

    @Test func theArduinoLibraryBuildsFileByFileForCortexM4F() throws {
        guard TargetTests.emulatorsInstalled, FileManager.default.isExecutableFile(atPath: "/usr/bin/arm-none-eabi-g++") else {
            if ProcessInfo.processInfo.environment["WHITTLE_REQUIRE_TOOLS"] != nil { Issue.record("arm-none-eabi-gcc or g++ is missing") }
            return
        }
        let directory = CBackendTests.workDirectory("package-arduino")
        let library = directory + "/kws"
        let made = try CommandLineTests.run(["compile", TestPaths.model("kws_dscnn_int8_qdq.onnx"), "--target", "cortex-m4f", "--name", "kws",
                                             "--package", "arduino", "-o", library])
        #expect(made.status == 0, "\(made.stderr)")
        let properties = try String(contentsOfFile: library + "/library.properties", encoding: .utf8)
        #expect(properties.contains("name=kws\n") && properties.contains("includes=kws.h\n") && properties.contains("architectures=*\n"))
        let sketch = library + "/examples/kws_inference/kws_inference.ino"
        #expect(FileManager.default.fileExists(atPath: sketch))
        // The C inside is what compile writes.
        let plain = try CommandLineTests.run(["compile", TestPaths.model("kws_dscnn_int8_qdq.onnx"), "--target", "cortex-m4f", "--name", "kws",
                                              "-o", directory + "/plain"])
        #expect(plain.status == 0)
        for file in ["kws.h", "kws.c", "kws_weights.c"] {
            #expect(FileManager.default.contents(atPath: library + "/src/" + file) == FileManager.default.contents(atPath: directory + "/plain/" + file), "\(file)")
        }
        // As the Arduino build does: each library source compiled alone with the board's flags (gnu11,
        // -Os), the sketch as C++ with Arduino.h included first, then one link.
        try Self.arduinoHeader.write(toFile: directory + "/Arduino.h", atomically: true, encoding: .utf8)
        try Self.arduinoMain.write(toFile: directory + "/main.cpp", atomically: true, encoding: .utf8)
        let board = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-Os", "-ffunction-sections", "-fdata-sections", "-Wall"]
        var objects: [String] = []
        for file in ["kws.c", "kws_weights.c"] {
            let object = directory + "/" + file + ".o"
            let compiled = try CommandLineTests.execute("/usr/bin/arm-none-eabi-gcc", board + ["-std=gnu11", "-I", library + "/src", "-c", library + "/src/" + file, "-o", object])
            #expect(compiled.status == 0, "\(file): \(compiled.stderr)")
            objects.append(object)
        }
        let cxx = board + ["-std=gnu++11", "-fno-exceptions", "-fno-rtti", "-I", directory, "-I", library + "/src"]
        let sketchObject = try CommandLineTests.execute("/usr/bin/arm-none-eabi-g++", cxx + ["-x", "c++", "-include", "Arduino.h", "-c", sketch, "-o", directory + "/sketch.o"])
        #expect(sketchObject.status == 0, "\(sketchObject.stderr)")
        let mainObject = try CommandLineTests.execute("/usr/bin/arm-none-eabi-g++", cxx + ["-c", directory + "/main.cpp", "-o", directory + "/main.o"])
        #expect(mainObject.status == 0, "\(mainObject.stderr)")
        let linked = try CommandLineTests.execute("/usr/bin/arm-none-eabi-gcc", board + ["--specs=nosys.specs", "-Wl,--gc-sections", "-o", directory + "/sketch.elf",
                                                                                          directory + "/sketch.o", directory + "/main.o"] + objects + ["-lm"])
        #expect(linked.status == 0, "\(linked.stderr)")
    }

    @Test func platformIOGetsItsManifest() throws {
        let directory = CBackendTests.workDirectory("package-platformio")
        let made = try CommandLineTests.run(["compile", TestPaths.model("digits_cnn.onnx"), "--name", "digits", "--package", "platformio", "-o", directory])
        #expect(made.status == 0, "\(made.stderr)")
        let manifest = try #require(FileManager.default.contents(atPath: directory + "/library.json"))
        let json = try #require(try JSONSerialization.jsonObject(with: manifest) as? [String: Any])
        #expect(json["name"] as? String == "digits")
        #expect((json["build"] as? [String: Any])?["flags"] as? [String] == ["-ffp-contract=off"])
        #expect(FileManager.default.fileExists(atPath: directory + "/src/digits.c") && FileManager.default.fileExists(atPath: directory + "/library.properties"))
        // Arduino builds cannot hand the assembler the weights' folder: binary weights are refused.
        let binary = try CommandLineTests.run(["compile", TestPaths.model("digits_cnn.onnx"), "--package", "arduino", "--weights", "binary",
                                               "-o", directory + "/binary"])
        #expect(binary.status == 1 && binary.stderr.contains("C initializers (c)") && binary.stderr.contains("(--weights)"), "\(binary.stderr)")
        let unknown = try CommandLineTests.run(["compile", TestPaths.model("digits_cnn.onnx"), "--package", "zephyr", "-o", directory + "/z"])
        #expect(unknown.status != 0 && unknown.stderr.contains("arduino, platformio or cmake"))
    }

    @Test(arguments: ["add_subdirectory", "find_package"])
    func theCMakePackageBuildsAConsumer(way: String) throws {
        guard Self.cmakeInstalled else {
            if ProcessInfo.processInfo.environment["WHITTLE_REQUIRE_TOOLS"] != nil { Issue.record("cmake is missing") }
            return
        }
        let directory = CBackendTests.workDirectory("package-cmake-\(way)")
        let made = try CommandLineTests.run(["compile", TestPaths.model("kws_dscnn.onnx"), "--name", "model", "--package", "cmake", "-o", directory + "/model"])
        #expect(made.status == 0, "\(made.stderr)")
        let main = TestPaths.root.appendingPathComponent("Examples/host/main.c").path
        let use = way == "add_subdirectory" ? "add_subdirectory(\(directory)/model model)" : "find_package(model CONFIG REQUIRED)"
        let lists = """
        cmake_minimum_required(VERSION 3.13)
        project(app C)
        \(use)
        add_executable(app \(main))
        target_link_libraries(app PRIVATE whittle::model)

        """
        let app = directory + "/app"
        try FileManager.default.createDirectory(atPath: app, withIntermediateDirectories: true)
        try lists.write(toFile: app + "/CMakeLists.txt", atomically: true, encoding: .utf8)
        let configure = try CommandLineTests.executeWithSignals("/usr/bin/cmake", ["-S", app, "-B", app + "/build", "-DCMAKE_PREFIX_PATH=" + directory + "/model"])
        #expect(configure.status == 0, "\(configure.stdout) \(configure.stderr)")
        let build = try CommandLineTests.executeWithSignals("/usr/bin/cmake", ["--build", app + "/build"])
        #expect(build.status == 0, "\(build.stdout) \(build.stderr)")
        let run = try CommandLineTests.execute(app + "/build/app", [TestPaths.root.appendingPathComponent("Examples/kws_dscnn_input.npy").path])
        #expect(run.status == 0 && run.stdout.contains("top class: 4"), "\(run.stdout) \(run.stderr)")
    }
}
