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
///     a non-finite value decodes to NaN, so a broken gradient stays visible.
/// hivemind's `compression/` offers the same three choices (none, float16, 8-bit blockwise).
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
        case .blockwiseInt8(let blockSize): BlockwiseInt8Codec.encodedByteCount(elementCount: elementCount, blockSize: blockSize)
        }
    }

    /// Encodes `values` into the start of `bytes` (at least `encodedByteCount` long); returns the
    /// number of bytes written.
    @discardableResult
    public func encode(_ values: UnsafeBufferPointer<Float>, into bytes: UnsafeMutableRawBufferPointer) -> Int {
        let count = encodedByteCount(elementCount: values.count)
        precondition(bytes.count >= count, "\(bytes.count) bytes cannot hold \(values.count) values as \(self)")
        switch self {
        case .none:
            #if _endian(little)
            bytes.copyMemory(from: UnsafeRawBufferPointer(values))
            #else
            for (index, value) in values.enumerated() {
                bytes.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: 4 * index, as: UInt32.self)
            }
            #endif
        case .float16:
            for (index, value) in values.enumerated() {
                bytes.storeBytes(of: HalfPrecision.bits(of: value).littleEndian, toByteOffset: 2 * index, as: UInt16.self)
            }
        case .blockwiseInt8(let blockSize):
            BlockwiseInt8Codec.encode(values, blockSize: blockSize, into: bytes)
        }
        return count
    }

    /// Overwrites `values` with the decoding of `bytes` (exactly `encodedByteCount` long).
    public func decode(_ bytes: UnsafeRawBufferPointer, into values: UnsafeMutableBufferPointer<Float>) {
        #if _endian(little)
        if self == .none {
            precondition(bytes.count == values.count * 4, "\(bytes.count) bytes are not \(values.count) values as \(self)")
            UnsafeMutableRawBufferPointer(values).copyMemory(from: bytes)
            return
        }
        #endif
        transform(bytes, into: values) { _, decoded in decoded }
    }

    /// Adds `weight` × the decoding of `bytes` to `accumulator`, value by value.
    public func accumulate(_ bytes: UnsafeRawBufferPointer, weight: Float, into accumulator: UnsafeMutableBufferPointer<Float>) {
        transform(bytes, into: accumulator) { current, decoded in current + weight * decoded }
    }

    private func transform(
        _ bytes: UnsafeRawBufferPointer, into values: UnsafeMutableBufferPointer<Float>,
        _ combine: (Float, Float) -> Float
    ) {
        precondition(bytes.count == encodedByteCount(elementCount: values.count),
                     "\(bytes.count) bytes are not \(values.count) values as \(self)")
        switch self {
        case .none:
            for index in values.indices {
                let bits = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * index, as: UInt32.self))
                values[index] = combine(values[index], Float(bitPattern: bits))
            }
        case .float16:
            for index in values.indices {
                let bits = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self))
                values[index] = combine(values[index], HalfPrecision.value(of: bits))
            }
        case .blockwiseInt8(let blockSize):
            BlockwiseInt8Codec.transform(bytes, blockSize: blockSize, into: values, combine)
        }
    }
}
