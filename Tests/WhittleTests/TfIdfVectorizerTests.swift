import Foundation
import Testing
import WhittleIR
import WhittleKit

/// TfIdfVectorizer's three weightings, counted by hand: ONNX's node cases cover term frequency only.
/// Tokens [1, 2, 3, 5, 6, 7, 5, 6] against unigrams 2, 3, 5 and bigrams (5, 6), (7, 8) count 1, 1, 2, 2, 0.
struct TfIdfVectorizerTests {
    static func model(mode: String, weights: [Float]?) throws -> AnalyzedModel {
        var attributes: [String: Attribute] = [
            "mode": .string(mode), "min_gram_length": .int(1), "max_gram_length": .int(2), "max_skip_count": .int(0),
            "ngram_counts": .ints([0, 3]), "ngram_indexes": .ints([0, 1, 2, 3, 4]), "pool_int64s": .ints([2, 3, 5, 5, 6, 7, 8]),
        ]
        if let weights { attributes["weights"] = .floats(weights) }
        let node = Node(name: "tfidf", opType: "TfIdfVectorizer", inputs: ["tokens"], outputs: ["features"], attributes: attributes)
        let model = HostileModelTests.model([node], inputs: [ValueInfo(name: "tokens", type: TensorType(.int64, [2, 8]))], outputs: ["features"])
        return try ModelLoader.analyze(model, path: "tfidf.onnx")
    }

    static let tokens = NDArray(.int64, shape: [2, 8], ints: [1, 2, 3, 5, 6, 7, 5, 6, 7, 8, 7, 8, 2, 2, 9, 9])

    @Test(arguments: [("TF", nil, [1, 1, 2, 2, 0, 2, 0, 0, 0, 2]),
                      ("IDF", [0.5, 1, 2, 0.25, 4], [0.5, 1, 2, 0.25, 0, 0.5, 0, 0, 0, 4]),
                      ("TFIDF", [0.5, 1, 2, 0.25, 4], [0.5, 1, 4, 0.5, 0, 1, 0, 0, 0, 8]),
                      ("IDF", nil, [1, 1, 1, 1, 0, 1, 0, 0, 0, 1])] as [(String, [Float]?, [Float])])
    func weightingsMatchTheHandCount(mode: String, weights: [Float]?, expected: [Float]) throws {
        let analyzed = try Self.model(mode: mode, weights: weights)
        let features = try #require(try ModelRunner.run(analyzed, inputs: ["tokens": Self.tokens])["features"])
        #expect(features.shape == [2, 5])
        #expect(features.floats == expected, "\(mode): \(features.floats)")
        for c in try ModelVerifier.verify(analyzed, inputs: ["tokens": Self.tokens], options: ModelVerifier.Options(),
                                          workDirectory: CBackendTests.workDirectory("tfidf-\(mode)-\(weights == nil)")) {
            #expect(c.passed && c.maxAbsError == 0, "\(mode) in C: \(c.name) max abs error \(c.maxAbsError)")
        }
    }

    @Test func stringPoolsAreRefusedWithTheReason() throws {
        let node = Node(name: "words", opType: "TfIdfVectorizer", inputs: ["tokens"], outputs: ["features"],
                        attributes: ["mode": .string("TF"), "max_gram_length": .int(1), "min_gram_length": .int(1), "max_skip_count": .int(0),
                                     "ngram_counts": .ints([0]), "ngram_indexes": .ints([0]), "pool_strings": .strings(["a"])])
        let model = HostileModelTests.model([node], inputs: [ValueInfo(name: "tokens", type: TensorType(.int64, [4]))], outputs: ["features"])
        let analyzed = try ModelLoader.analyze(model, path: "words.onnx")
        let reason = try #require(analyzed.inference.unsupported.first)
        #expect(reason.reason.contains("pool_strings"), "\(reason)")
    }
}
