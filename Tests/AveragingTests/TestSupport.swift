import CohortBase
import Averaging

/// SplitMix64: a small seeded generator, so every test run sees the same "random" inputs.
struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A peer id whose bytes all equal `byte`, so ids order like their bytes.
func peerID(_ byte: UInt8) -> PeerID {
    PeerID(bytes: [UInt8](repeating: byte, count: 32))!
}

/// A peer id from hex (padded with zeros to 32 bytes).
func peerID(hex: String) -> PeerID {
    var bytes: [UInt8] = []
    var characters = Array(hex)
    while characters.count >= 2 {
        bytes.append(UInt8(String(characters.prefix(2)), radix: 16)!)
        characters.removeFirst(2)
    }
    return PeerID(bytes: bytes + [UInt8](repeating: 0, count: 32 - bytes.count))!
}

func declaration(_ peer: PeerID, step: UInt64 = 41, bandwidth: UInt64 = 1_000_000, clientMode: Bool = false,
                 samples: UInt64 = 32) -> Declaration {
    Declaration(step: step, peer: peer, address: "10.0.0.1:7000", bandwidth: bandwidth, clientMode: clientMode, samples: samples)
}

func seconds(_ value: Double) -> MonotonicInstant {
    MonotonicInstant(nanoseconds: Int64(value * 1e9))
}
