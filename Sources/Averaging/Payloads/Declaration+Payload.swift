extension Declaration {
    /// Longest address a declaration carries, in UTF-8 bytes.
    public static let maxAddressBytes = 255

    /// Step, peer id, address, bandwidth, client mode, samples; little-endian.
    public func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.write(step)
        writer.write(peer)
        writer.write(address)
        writer.write(bandwidth)
        writer.write(clientMode)
        writer.write(samples)
        return writer.bytes
    }

    public init(decoding bytes: ArraySlice<UInt8>) throws(PayloadDecodingError) {
        var reader = ByteReader(bytes, what: "declaration")
        self.init(
            step: try reader.read(UInt64.self, "step"),
            peer: try reader.readPeer("peer id"),
            address: try reader.readString("address", maxBytes: Self.maxAddressBytes),
            bandwidth: UInt64(try reader.read(UInt64.self, "bandwidth", in: 0...Int(Self.maxBandwidth))),
            clientMode: try reader.readBool("client mode"),
            samples: UInt64(try reader.read(UInt64.self, "samples", in: 0...Int(Self.maxSamples))))
        try reader.finish()
        guard samples > 0 else {
            throw PayloadDecodingError(.outOfRange, "declaration: a peer with no samples has nothing to average")
        }
    }
}
