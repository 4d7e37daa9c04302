@testable import CUDABackend
import Testing

/// The launch shapes the kernels' comments promise, checked without running a kernel.
struct KernelLaunchTests {
    @Test func perRowShapesCoverEveryRow() {
        for rows in [1, 7, 8, 9, 74, 1000] {
            let warps = KernelLaunch.layerNormForward(rows: rows)
            #expect(warps.block == .init(x: 32, y: 8))
            #expect(Int(warps.grid.x) * 8 >= rows && Int(warps.grid.x - 1) * 8 < rows)
            #expect(KernelLaunch.crossEntropy(rows: rows).grid.x == UInt32(rows))
        }
    }

    /// Grid-stride kernels take at most the capped grid, and one block even for no elements.
    @Test func gridStrideShapesAreCapped() {
        #expect(KernelLaunch.geluForward(count: 0).grid.x == 1)
        #expect(KernelLaunch.geluForward(count: 257).grid.x == 2)
        #expect(KernelLaunch.sgdMomentum(count: 1 << 40).grid.x == UInt32(KernelLaunch.maximumGridStrideBlocks))
    }

    /// The reductions that combine per-warp results assume whole warps, at most 32 of them.
    @Test func everyBlockIsWholeWarps() {
        let shapes: [KernelLaunch] = [
            .embeddingForward(rows: 3, channels: 5), .embeddingBackward(vocabulary: 7), .layerNormForward(rows: 3),
            .layerNormWeightGradientTerms(rows: 2, channels: 3), .biasBroadcast(rows: 2, columns: 3), .attentionSoftmaxForward(rows: 5),
            .crossEntropy(rows: 2), .sgdMomentum(count: 9), .sumSquaresPartials,
        ]
        for shape in shapes {
            let threads = shape.block.x * shape.block.y * shape.block.z
            #expect(threads % 32 == 0 && threads <= 1024, "\(shape)")
        }
    }
}
