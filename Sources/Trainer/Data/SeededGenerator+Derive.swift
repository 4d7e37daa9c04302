extension SeededGenerator {
    /// A seed for one use of randomness (a micro-batch's masks, a layer, a sequence) mixed from a
    /// parent seed and a key, so that independent streams need no shared generator state and a
    /// step's noise can be redrawn in any order, on any lane, or after a resume.
    public static func derivedSeed(_ seed: UInt64, _ key: UInt64) -> UInt64 {
        // SplitMix64's finaliser over the parent seed offset by the key's golden-ratio multiple.
        var z = seed &+ (key &+ 1) &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
