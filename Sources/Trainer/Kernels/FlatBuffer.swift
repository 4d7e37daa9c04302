/// A contiguous, 64-byte aligned, zero-initialised buffer of scalars.
///
/// The model's parameters, gradients and momentum each live in one of these (the flat arena of
/// DESIGN.md), and every activation buffer is one too; all are allocated once, never per step.
/// A buffer may also be a window onto part of another (`init(window:of:)`), e.g. the rows of the
/// arena a prompt-tuning run trains.
public final class FlatBuffer<Scalar: BinaryFloatingPoint>: @unchecked Sendable {
    public let count: Int
    public let base: UnsafeMutablePointer<Scalar>
    /// The buffer a window reads and writes; it keeps that memory alive.
    private let owner: FlatBuffer<Scalar>?

    public init(count: Int) {
        precondition(count >= 0, "FlatBuffer count must be non-negative, got \(count)")
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: max(count, 1) * MemoryLayout<Scalar>.stride, alignment: 64)
        base = raw.bindMemory(to: Scalar.self, capacity: max(count, 1))
        base.initialize(repeating: 0, count: max(count, 1))
        owner = nil
    }

    /// The elements `range` of `buffer`, shared: writes through either are seen by both.
    public init(window range: Range<Int>, of buffer: FlatBuffer<Scalar>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= buffer.count,
                     "window \(range) lies outside a buffer of \(buffer.count)")
        count = range.count
        base = buffer.base + range.lowerBound
        owner = buffer
    }

    deinit {
        if owner == nil { UnsafeMutableRawPointer(base).deallocate() }
    }

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
