/// A contiguous, 64-byte aligned, zero-initialised buffer of scalars.
///
/// The model's parameters, gradients and momentum each live in one of these (the flat arena of
/// DESIGN.md), and every activation buffer is one too; all are allocated once, never per step.
public final class FlatBuffer<Scalar: BinaryFloatingPoint>: @unchecked Sendable {
    public let count: Int
    public let base: UnsafeMutablePointer<Scalar>

    public init(count: Int) {
        precondition(count >= 0, "FlatBuffer count must be non-negative, got \(count)")
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: max(count, 1) * MemoryLayout<Scalar>.stride, alignment: 64)
        base = raw.bindMemory(to: Scalar.self, capacity: max(count, 1))
        base.initialize(repeating: 0, count: max(count, 1))
    }

    deinit { UnsafeMutableRawPointer(base).deallocate() }

    public var buffer: UnsafeMutableBufferPointer<Scalar> {
        UnsafeMutableBufferPointer(start: base, count: count)
    }

    public subscript(index: Int) -> Scalar {
        get { base[index] }
        set { base[index] = newValue }
    }

    public func zero() { base.update(repeating: 0, count: count) }

    public func copy(from other: FlatBuffer<Scalar>) {
        precondition(other.count == count, "copy between buffers of \(other.count) and \(count)")
        base.update(from: other.base, count: count)
    }

    public var array: [Scalar] { Array(buffer) }
}
