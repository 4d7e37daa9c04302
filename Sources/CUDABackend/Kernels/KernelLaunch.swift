/// The grid and block a kernel entry point is launched with, derived from its sizes.
///
/// Each kernel's comment states the shape it expects; this type is the one place that computes
/// it, so the host code and the emulated tests launch every kernel alike. Sizes are the ones of
/// the kernel's own legend (N rows, C channels, V vocabulary, O columns).
public struct KernelLaunch: Equatable, Sendable {
    /// Three extents, as cuLaunchKernel takes them.
    public struct Extent: Equatable, Sendable {
        public let x: UInt32
        public let y: UInt32
        public let z: UInt32

        init(x: Int, y: Int = 1) {
            precondition(x > 0 && y > 0 && x <= Int(UInt32.max), "launch extent \(x)×\(y) is out of range")
            self.x = UInt32(x)
            self.y = UInt32(y)
            z = 1
        }
    }

    public let grid: Extent
    public let block: Extent

    /// Blocks of `cohort_sum_squares_partials`, and so the partial sums it writes: fixed, so that
    /// every element lands in the same partial on every run whatever the count.
    public static let sumSquaresPartialCount = 256

    /// Threads per block of the grid-stride and one-row-per-block shapes.
    static let threadsPerBlock = 256
    /// Rows per block in the one-warp-per-row shape: block (32, 8).
    static let rowsPerBlock = 8
    /// A grid-stride launch needs no more blocks than keep every multiprocessor busy.
    static let maximumGridStrideBlocks = 4096

    public static func add(count: Int) -> KernelLaunch { gridStride(count: count) }
    public static func accumulate(count: Int) -> KernelLaunch { gridStride(count: count) }

    public static func embeddingForward(rows: Int, channels: Int) -> KernelLaunch { gridStride(count: rows * channels) }
    public static func embeddingBackward(vocabulary: Int) -> KernelLaunch { blockPerRow(rows: vocabulary) }

    public static func layerNormForward(rows: Int) -> KernelLaunch { warpPerRow(rows: rows) }
    public static func layerNormBackwardInput(rows: Int) -> KernelLaunch { warpPerRow(rows: rows) }
    public static func layerNormWeightGradientTerms(rows: Int, channels: Int) -> KernelLaunch {
        gridStride(count: rows * channels)
    }

    public static func biasBroadcast(rows: Int, columns: Int) -> KernelLaunch { gridStride(count: rows * columns) }

    public static func geluForward(count: Int) -> KernelLaunch { gridStride(count: count) }
    public static func geluBackward(count: Int) -> KernelLaunch { gridStride(count: count) }

    /// `rows` is B·NH·T, one per query of every head.
    public static func attentionSoftmaxForward(rows: Int) -> KernelLaunch { warpPerRow(rows: rows) }
    public static func attentionSoftmaxBackward(rows: Int) -> KernelLaunch { warpPerRow(rows: rows) }

    public static func crossEntropy(rows: Int) -> KernelLaunch { blockPerRow(rows: rows) }

    public static func sgdMomentum(count: Int) -> KernelLaunch { gridStride(count: count) }
    public static func scale(count: Int) -> KernelLaunch { gridStride(count: count) }
    public static let sumSquaresPartials = KernelLaunch(
        grid: Extent(x: sumSquaresPartialCount), block: Extent(x: threadsPerBlock))

    /// Elementwise kernels loop over their elements, so any grid covers them; a zero count still
    /// launches one block, which finds nothing to do.
    private static func gridStride(count: Int) -> KernelLaunch {
        let blocks = (count + threadsPerBlock - 1) / threadsPerBlock
        return KernelLaunch(
            grid: Extent(x: min(max(blocks, 1), maximumGridStrideBlocks)), block: Extent(x: threadsPerBlock))
    }

    private static func warpPerRow(rows: Int) -> KernelLaunch {
        KernelLaunch(
            grid: Extent(x: (rows + rowsPerBlock - 1) / rowsPerBlock), block: Extent(x: 32, y: rowsPerBlock))
    }

    private static func blockPerRow(rows: Int) -> KernelLaunch {
        KernelLaunch(grid: Extent(x: rows), block: Extent(x: threadsPerBlock))
    }
}
