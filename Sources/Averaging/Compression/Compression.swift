import CAveragingKernels

/// How vector chunks travel on the wire: a run picks one for every round.
///
/// Encoding writes into a caller-provided byte buffer; decoding reads straight from the bytes,
/// and `accumulate` adds a weighted decoded chunk into an accumulator, so an owner reduces from
/// the wire format without an intermediate float array (DESIGN.md "Network protocol").
/// All multi-byte values are little-endian. Error bounds, per value `x` and its decoding `y`:
///   - `none`: exact.
///   - `float16`: IEEE half, round to nearest even; |x − y| ≤ 2⁻¹¹·|x| for 2⁻¹⁴ ≤ |x| ≤ 65504,
///     |x − y| ≤ 2⁻²⁵ below that; larger magnitudes (and ±∞) clamp to ±65504; NaN stays NaN.
///   - `blockwiseInt8`: per block of `blockSize` values a float32 scale s = max|x|/127 and one
///     int8 code per value; |x − y| ≤ s/2 (plus float32 rounding, under s·2⁻¹⁶). A block holding
///     a non-finite value decodes to NaN, so a broken gradient stays visible. A scale per block keeps
///     one large value from flattening a whole chunk; blocks restart at every chunk, so a chunk
///     decodes on its own.
/// hivemind's `compression/` offers the same three choices (none, float16, 8-bit blockwise).
/// The loops are C (`CAveragingKernels`): AVX2 + F16C where the CPU has them, a portable
/// version elsewhere, bit-identical to each other.
public enum Compression: Hashable, Sendable {
    case none
    case float16
    case blockwiseInt8(blockSize: Int)

    /// The default block of the 8-bit codec: 256 values share one scale (1.6 % overhead).
    public static let blockwiseInt8 = Compression.blockwiseInt8(blockSize: 256)

    /// Bytes `encode` writes for `elementCount` values.
    public func encodedByteCount(elementCount: Int) -> Int {
        switch self {
        case .none: elementCount * 4
        case .float16: elementCount * 2
        case .blockwiseInt8(let blockSize): (elementCount + blockSize - 1) / blockSize * 4 + elementCount
        }
    }

    /// Encodes `values` into the start of `bytes` (at least `encodedByteCount` long); returns the
    /// number of bytes written.
    @discardableResult
    public func encode(_ values: UnsafeBufferPointer<Float>, into bytes: UnsafeMutableRawBufferPointer) -> Int {
        let count = encodedByteCount(elementCount: values.count)
        precondition(bytes.count >= count, "\(bytes.count) bytes cannot hold \(values.count) values as \(self)")
        guard let source = values.baseAddress, let destination = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            return count
        }
        switch self {
        case .none:
            bytes.copyMemory(from: UnsafeRawBufferPointer(values))
        case .float16:
            averaging_f16_encode(source, values.count, destination)
        case .blockwiseInt8(let blockSize):
            averaging_int8_encode(source, values.count, blockSize, destination)
        }
        return count
    }

    /// Overwrites `values` with the decoding of `bytes` (exactly `encodedByteCount` long).
    public func decode(_ bytes: UnsafeRawBufferPointer, into values: UnsafeMutableBufferPointer<Float>) {
        precondition(bytes.count == encodedByteCount(elementCount: values.count),
                     "\(bytes.count) bytes are not \(values.count) values as \(self)")
        guard let source = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), let destination = values.baseAddress else { return }
        switch self {
        case .none:
            UnsafeMutableRawBufferPointer(values).copyMemory(from: bytes)
        case .float16:
            averaging_f16_decode(source, values.count, destination)
        case .blockwiseInt8(let blockSize):
            averaging_int8_decode(source, values.count, blockSize, destination)
        }
    }

    /// Adds `weight` × the decoding of `bytes` to `accumulator`, value by value.
    public func accumulate(_ bytes: UnsafeRawBufferPointer, weight: Float, into accumulator: UnsafeMutableBufferPointer<Float>) {
        precondition(bytes.count == encodedByteCount(elementCount: accumulator.count),
                     "\(bytes.count) bytes are not \(accumulator.count) values as \(self)")
        guard let source = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), let destination = accumulator.baseAddress else {
            return
        }
        switch self {
        case .none:
            averaging_f32_accumulate(source, accumulator.count, weight, destination)
        case .float16:
            averaging_f16_accumulate(source, accumulator.count, weight, destination)
        case .blockwiseInt8(let blockSize):
            averaging_int8_accumulate(source, accumulator.count, blockSize, weight, destination)
        }
    }

    /// How many of the values `bytes` decode to are NaN or infinite, and the sum of the finite
    /// ones' squares (in Double), read from the encoding without decoding it into memory.
    public func nonFiniteCountAndSumOfSquares(_ bytes: UnsafeRawBufferPointer, elementCount: Int) -> (nonFinite: Int, sumOfSquares: Double) {
        precondition(bytes.count == encodedByteCount(elementCount: elementCount),
                     "\(bytes.count) bytes are not \(elementCount) values as \(self)")
        guard let source = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return (0, 0) }
        var sumOfSquares = 0.0
        let nonFinite = switch self {
        case .none: averaging_nonfinite_count(source, elementCount, &sumOfSquares)
        case .float16: averaging_f16_nonfinite_count(source, elementCount, &sumOfSquares)
        case .blockwiseInt8(let blockSize): averaging_int8_nonfinite_count(source, elementCount, blockSize, &sumOfSquares)
        }
        return (nonFinite, sumOfSquares)
    }
}
