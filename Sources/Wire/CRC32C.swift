import CCRC32C

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the frame checksum.
///
/// Chosen over the IEEE CRC-32 because it detects more error patterns at the lengths frames
/// have (RFC 3720 §B.4 uses it for iSCSI for the same reason). Contiguous bytes go through the
/// CPU's CRC-32C instruction where there is one (SSE 4.2: ~8 bytes a cycle against one byte for
/// the table, which made the checksum the slowest step of sending a large frame); otherwise,
/// and for other sequences, the table-driven loop, one byte per step.
public enum CRC32C {
    private static let table: [UInt32] = (0..<256).map { index in
        var crc = UInt32(index)
        for _ in 0..<8 {
            crc = (crc & 1) == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1
        }
        return crc
    }

    private static let hasInstruction = ccrc32c_has_instruction() != 0

    /// The checksum of `bytes`, continuing from `crc` (the checksum of the bytes before them).
    public static func checksum(_ bytes: some Sequence<UInt8>, continuing crc: UInt32 = 0) -> UInt32 {
        if hasInstruction, let state = bytes.withContiguousStorageIfAvailable({
            ccrc32c_update_with_instruction(~crc, $0.baseAddress, $0.count)
        }) {
            return ~state
        }
        var state = ~crc
        for byte in bytes {
            state = table[Int((state ^ UInt32(byte)) & 0xFF)] ^ (state >> 8)
        }
        return ~state
    }

    /// The checksum of the bytes at `bytes`, continuing from `crc`.
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        guard hasInstruction else { return checksum(bytes.lazy.map { $0 }, continuing: crc) }
        return ~ccrc32c_update_with_instruction(~crc, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count)
    }
}
