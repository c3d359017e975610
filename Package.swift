// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Whittle",
    products: [
        .library(name: "WhittleKit", targets: ["WhittleKit"]),
        .executable(name: "whittle", targets: ["whittle"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // Debian's libprotobuf-c (pkg-config libprotobuf-c).
        .systemLibrary(
            name: "CProtobufC",
            pkgConfig: "libprotobuf-c",
            providers: [.apt(["libprotobuf-c-dev"])]
        ),
        // Debian's zlib, for deflated .npz archives.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // protoc-c output for onnx.proto; see Sources/ONNXProto/VERSION and regenerate.sh.
        .target(
            name: "ONNXProto",
            dependencies: ["CProtobufC"],
            exclude: ["proto", "regenerate.sh", "VERSION"]
        ),
        // Graph IR: element types, tensors, attributes, graph, verifier, errors.
        .target(name: "WhittleIR"),
        // Operator definitions: attribute defaults, shape/type inference, MAC counts, shape-value folding.
        .target(name: "WhittleOps", dependencies: ["WhittleIR"]),
        // ONNX front end: the only module that touches protobuf-c types.
        .target(name: "WhittleONNX", dependencies: ["WhittleIR", "ONNXProto"]),
        // Graph passes (fold, fuse, alias, ...) and the static memory planner.
        .target(name: "WhittlePasses", dependencies: ["WhittleIR", "WhittleOps"]),
        // The C back end: emits a model as standalone C99 (header, code, weights, report).
        // The kernel library's C files are compiled into the binary as text by the EmbedFiles plugin.
        .target(name: "WhittleCodegen", dependencies: ["WhittleIR", "WhittleOps", "WhittlePasses"], exclude: ["CKernels"],
                plugins: ["EmbedFiles"]),
        // The reference interpreter: runs a graph with each operator's reference kernel.
        .target(name: "WhittleInterpreter", dependencies: ["WhittleIR", "WhittleOps"]),
        // Post-training quantization: calibration and the rewrite into an int8 QDQ model.
        .target(name: "WhittleQuantization", dependencies: ["WhittleIR", "WhittleOps", "WhittlePasses", "WhittleInterpreter"]),
        // Pruning: magnitude pruning of weights (float and quantized) and structured channel pruning.
        .target(name: "WhittlePruning", dependencies: ["WhittleIR", "WhittleOps"]),
        // Binarization: XNOR-Net-style rewrite of Conv/Gemm layers to ±α weights and ±β inputs.
        .target(name: "WhittleBinarization", dependencies: ["WhittleIR", "WhittleOps", "WhittleInterpreter"]),
        // NumPy .npy/.npz reading and writing.
        .target(name: "WhittleNumPy", dependencies: ["WhittleIR", "CZlib"]),
        // Facade used by the CLI and by embedders: load, infer, report.
        // The Targets folder is compiled into the binary as text by the EmbedFiles plugin.
        .target(name: "WhittleKit", dependencies: ["WhittleIR", "WhittleOps", "WhittleONNX", "WhittleInterpreter", "WhittleNumPy", "WhittlePasses", "WhittleCodegen", "WhittleQuantization", "WhittlePruning", "WhittleBinarization"],
                plugins: ["EmbedFiles"]),
        // Writes text files as Swift string constants, for the EmbedFiles build-tool plugin.
        .executableTarget(name: "whittle-embed"),
        .plugin(name: "EmbedFiles", capability: .buildTool(), dependencies: ["whittle-embed"], path: "Sources/EmbedFilesPlugin"),
        .executableTarget(
            name: "whittle",
            dependencies: [
                "WhittleKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The fuzz targets (ONNX loader and shape inference, .npy/.npz, target descriptions): a
        // libFuzzer driver when built by `make fuzz`, a replay of given inputs otherwise.
        .executableTarget(name: "whittle-fuzz", dependencies: ["WhittleKit", "WhittleIR", "WhittleONNX", "WhittleNumPy", "WhittleInterpreter"]),
        .testTarget(
            name: "WhittleTests",
            dependencies: ["WhittleKit", "WhittleIR", "WhittleOps", "WhittleONNX", "WhittleInterpreter", "WhittleNumPy", "WhittlePasses", "WhittleCodegen", "WhittleQuantization", "WhittlePruning", "WhittleBinarization"],
            exclude: ["Fixtures", "Golden"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
