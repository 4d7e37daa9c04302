extension Compression {
    /// Largest block of the 8-bit codec a peer may announce.
    static let maxBlockSize = 1 << 16

    /// One byte (0 none, 1 float16, 2 blockwise int8), then for int8 the block size as UInt32.
    func write(to writer: inout ByteWriter) {
        switch self {
        case .none:
            writer.write(UInt8(0))
        case .float16:
            writer.write(UInt8(1))
        case .blockwiseInt8(let blockSize):
            writer.write(UInt8(2))
            writer.write(UInt32(blockSize))
        }
    }

    init(reading reader: inout ByteReader) throws(PayloadDecodingError) {
        switch try reader.read(UInt8.self, "codec", in: 0...2) {
        case 0: self = .none
        case 1: self = .float16
        default: self = .blockwiseInt8(blockSize: try reader.read(UInt32.self, "block size", in: 1...Self.maxBlockSize))
        }
    }
}
