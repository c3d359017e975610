import Foundation
import Testing
import WhittleKit

/// The Cortex-M cycle estimate: the timing tables on a hand-written sequence, and `verify --target`
/// pricing a real inference (totals equal to the instruction counter's, per-layer rows that add up).
struct CycleModelTests {
    /// A counted loop of ten trips as objdump prints it: push, two loads, a multiply-accumulate, the
    /// count, the loop branch (taken nine times), and a pop into the pc.
    static let listing = """
        00001000 <dot>:
            1000:\tb510      \tpush\t{r4, lr}
            1002:\t6801      \tldr\tr1, [r0, #0]
            1004:\t6842      \tldr\tr2, [r0, #4]
            1006:\tfb01 3302 \tmla\tr3, r1, r2, r3
            100a:\t3801      \tsubs\tr0, #1
            100c:\td1f9      \tbne.n\t1002 <dot+0x2>
            100e:\tbd10      \tpop\t{r4, pc}
        """
    /// The plugin's counts: segment, address, executions, executions reached in sequence, and those
    /// after which control jumped.
    static let log = """
        mix: 0 0x1000 1 0 0
        mix: 0 0x1002 10 1 0
        mix: 0 0x1004 10 10 0
        mix: 0 0x1006 10 10 0
        mix: 0 0x100a 10 10 0
        mix: 0 0x100c 10 10 9
        mix: 0 0x100e 1 1 1
        mix-region: count=1 last=52
        """

    func price(_ family: CycleModel.Family) -> CycleEstimate {
        CycleEstimate.estimate(Self.log, model: CycleModel(family: family, core: family.rawValue), segments: ["dot"],
                               disassembly: CycleModel.disassembly(Self.listing), layers: [])
    }

    @Test func theCortexM4TableOnAHandWrittenLoop() {
        let estimate = price(.m4)
        // push 1+2, first load 2 x 10 (after a push: not pipelined), second load 1 x 10 (after a load),
        // mla 10, subs 10, bne 10 + 2 x 9 taken, pop with pc 1+2+2.
        #expect(estimate.cycles == 3 + 20 + 10 + 10 + 10 + 28 + 5)
        #expect(estimate.total.instructions == 52)
        #expect(estimate.total.loads == 21)
        #expect(estimate.total.takenBranches == 10)
        #expect(estimate.rows.map(\.name) == ["dot"])
    }

    @Test func theCortexM0PlusAndM7Tables() {
        // M0+: no load pipelining (2 each), a taken branch 2, pop with pc 3 + N.
        #expect(price(.m0plus).cycles == 3 + 20 + 20 + 10 + 10 + 19 + 5)
        // M7: the issue bound (52 / 2 + 10 taken) is above the memory (22) and multiply (10) bounds.
        #expect(price(.m7).cycles == 36)
    }

    @Test func mnemonicsAreClassified() {
        func cycles(_ mnemonic: String, _ operands: String = "r0, r1", taken: Int = 0) -> Double {
            let i = CycleModel.Instruction(address: 0, size: 4, mnemonic: mnemonic, operands: operands)
            return CycleModel(family: .m4, core: "cortex-m4").cost(i, count: 1, sequential: 0, previous: nil, taken: taken).cycles
        }
        #expect(cycles("bic", "r0, r0, #3") == 1)
        #expect(cycles("bfi", "r0, r1, #0, #8") == 1)
        #expect(cycles("bls.n", "10", taken: 1) == 3)
        #expect(cycles("bls.n", "10", taken: 0) == 1)
        #expect(cycles("bl", "2000 <f>") == 3)
        #expect(cycles("ldr.w", "r3, [r0, #4]") == 2)
        #expect(cycles("ldrd", "r2, r3, [r0]") == 3)
        #expect(cycles("vfma.f32", "s0, s1, s2") == 3)
        #expect(cycles("vdiv.f32", "s0, s1, s2") == 14)
        #expect(cycles("sdiv", "r0, r1, r2") == 7)
        #expect(cycles("smlad", "r0, r1, r2, r3") == 1)
        #expect(cycles("pop", "{r4, r5, r6, r7, pc}") == 8)
        #expect(cycles("vpush", "{d8-d9}") == 5)
        #expect(cycles("ldr", "pc, [sp], #4") == 4)
    }

    @Test func verifyEstimatesTheInferenceOnCortexM() throws {
        guard TargetTests.emulatorsInstalled, let catalog = TargetTests.catalog else {
            if ProcessInfo.processInfo.environment["WHITTLE_REQUIRE_TOOLS"] != nil { Issue.record("QEMU or a cross compiler is missing") }
            return
        }
        // kws_dscnn on the M4F (with and without layers apart); the digits CNN fits the M0+'s 16 KiB.
        for (model, target, profile) in [("kws_dscnn_int8_qdq", "cortex-m4f", true), ("kws_dscnn_int8_qdq", "cortex-m4f", false),
                                         ("digits_cnn_int8_qdq", "cortex-m0plus", false), ("digits_cnn_int8_qdq", "cortex-m7", false)] {
            let analyzed = try ModelLoader.load(path: TestPaths.model(model + ".onnx"))
            let result = try TargetVerifier.verify(analyzed, target: try catalog.target(target), catalog: catalog, inputs: nil, tolerance: 1e-4,
                                                   budgets: (nil, nil), workDirectory: CBackendTests.workDirectory("cycles-\(target)-\(profile)"),
                                                   profile: profile)
            let estimate = try #require(result.cycles, "\(target)")
            // The mix counter sees the same inference as the instruction counter.
            #expect(estimate.total.instructions == result.instructions, "\(target)")
            #expect(estimate.rows.reduce(0) { $0 + $1.cost.instructions } == estimate.total.instructions)
            #expect(estimate.macs > 0 && estimate.total.loads > 0 && estimate.total.takenBranches > 0)
            let perInstruction = estimate.cycles / Double(estimate.total.instructions)
            #expect(perInstruction > (target == "cortex-m7" ? 0.5 : 1.0) && perInstruction < 2.5, "\(target): \(perInstruction)")
            if profile {
                // Each layer is a function of its own: the convolutions carry the MACs.
                let layered = estimate.rows.filter { $0.macs > 0 }
                #expect(layered.count >= 5, "\(estimate.rows.map(\.name))")
                #expect(layered.reduce(0) { $0 + $1.cost.instructions } > estimate.total.instructions * 3 / 4)
            }
        }
    }
}
