/// 8-bit blockwise quantisation: each block of values is stored as its float32 scale
/// s = max|x| / 127 (little-endian) followed by one signed byte per value, round(x / s).
///
/// A scale per block keeps one large value from flattening the whole chunk, as in hivemind's
/// `compression/quantization.py` blockwise 8-bit codec. Blocks restart at every chunk, so a
/// chunk decodes on its own. The error bound is in `Compression`.
enum BlockwiseInt8Codec {
    static func encodedByteCount(elementCount: Int, blockSize: Int) -> Int {
        precondition(blockSize > 0, "block size \(blockSize) must be positive")
        let blockCount = (elementCount + blockSize - 1) / blockSize
        return blockCount * 4 + elementCount
    }

    static func encode(_ values: UnsafeBufferPointer<Float>, blockSize: Int, into bytes: UnsafeMutableRawBufferPointer) {
        var offset = 0
        for blockStart in stride(from: 0, to: values.count, by: blockSize) {
            let block = values[blockStart..<min(blockStart + blockSize, values.count)]
            let scale = self.scale(of: block)
            bytes.storeBytes(of: scale.bitPattern.littleEndian, toByteOffset: offset, as: UInt32.self)
            offset += 4
            let quantises = scale > 0 && scale.isFinite
            for value in block {
                let code = quantises ? Int8(max(-127, min(127, (value / scale).rounded(.toNearestOrEven)))) : 0
                bytes.storeBytes(of: code, toByteOffset: offset, as: Int8.self)
                offset += 1
            }
        }
    }

    /// max|x| / 127; NaN when the block holds a non-finite value.
    private static func scale(of block: Slice<UnsafeBufferPointer<Float>>) -> Float {
        var largest: Float = 0
        for value in block {
            guard value.isFinite else { return .nan }
            largest = max(largest, value.magnitude)
        }
        return largest / 127
    }

    static func transform(
        _ bytes: UnsafeRawBufferPointer, blockSize: Int, into values: UnsafeMutableBufferPointer<Float>,
        _ combine: (Float, Float) -> Float
    ) {
        var offset = 0
        for blockStart in stride(from: 0, to: values.count, by: blockSize) {
            let scale = Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
            offset += 4
            for index in blockStart..<min(blockStart + blockSize, values.count) {
                let code = bytes.load(fromByteOffset: offset, as: Int8.self)
                values[index] = combine(values[index], Float(code) * scale)
                offset += 1
            }
        }
    }
}
