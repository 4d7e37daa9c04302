/// The contributions to one chunk, decoded side by side for a robust aggregation.
///
/// Row i holds contribution i: `length` values at `base + i·stride`, then zeros up to a whole
/// number of 16-value blocks, so the kernels run on full SIMD blocks with no tail loop and the
/// zero padding adds nothing to a norm. Layout, for n rows and b = ⌈length/16⌉ blocks:
/// rows[n][stride], stride ≥ 16·b.
struct ContributionRows {
    typealias Block = SIMD16<Float>
    static let blockWidth = Block.scalarCount

    let base: UnsafeMutablePointer<Float>
    let count: Int
    let length: Int
    let stride: Int

    var blockCount: Int { (length + Self.blockWidth - 1) / Self.blockWidth }

    /// Values `block·16 ..< block·16 + 16` of row `row`.
    func block(_ block: Int, ofRow row: Int) -> Block {
        UnsafeRawPointer(base + row * stride + block * Self.blockWidth).loadUnaligned(as: Block.self)
    }

    static func load(_ pointer: UnsafePointer<Float>, block: Int) -> Block {
        UnsafeRawPointer(pointer + block * blockWidth).loadUnaligned(as: Block.self)
    }

    static func store(_ values: Block, _ pointer: UnsafeMutablePointer<Float>, block: Int) {
        UnsafeMutableRawPointer(pointer + block * blockWidth).storeBytes(of: values, as: Block.self)
    }
}
