/// Inverted dropout (Srivastava et al., JMLR 2014) whose mask is redrawn from a seed instead
/// of stored: each value is zeroed with probability `rate` and otherwise scaled by 1/(1 − rate),
/// so its expectation is unchanged and evaluation runs the network as it is.
///
/// The same seed gives the same mask, so backward multiplies the gradient by exactly the mask
/// forward used, and a gradient check with a fixed seed sees a fixed (deterministic) network.
struct DropoutMask: Sendable {
    let rate: Double
    let seed: UInt64

    /// The mask of one part (a site, a layer, a sequence, a head), independent of its siblings'.
    func keyed(_ key: Int) -> DropoutMask {
        DropoutMask(rate: rate, seed: SeededGenerator.derivedSeed(seed, UInt64(truncatingIfNeeded: key)))
    }

    /// values[i] *= 0 or 1/(1 − rate).
    func apply<Scalar: TrainingScalar>(to values: UnsafeMutablePointer<Scalar>, count: Int) {
        guard rate > 0 else { return }
        var generator = SeededGenerator(seed: seed)
        let threshold = dropThreshold, keep = Scalar(1 / (1 - rate))
        for index in 0..<count { values[index] *= generator.next() < threshold ? 0 : keep }
    }

    /// One draw for a whole unit (stochastic depth's block of one sequence): 0 or 1/(1 − rate).
    func unitScale<Scalar: TrainingScalar>() -> Scalar {
        guard rate > 0 else { return 1 }
        var generator = SeededGenerator(seed: seed)
        return generator.next() < dropThreshold ? 0 : Scalar(1 / (1 - rate))
    }

    /// Raw 64-bit draws below this are dropped: P(draw < threshold) = rate.
    private var dropThreshold: UInt64 { UInt64(min(rate * 0x1p64, 0x1p64 - 0x1p11)) }

    /// Applies the mask of each of `sequences` sequences (keyed by its index from `first`) to its
    /// `valuesPerSequence` consecutive values: rows of one sequence share a stream, so a batch split
    /// over lanes draws the same masks as the whole batch.
    func applyPerSequence<Scalar: TrainingScalar>(
        to values: UnsafeMutablePointer<Scalar>, sequences: Int, first: Int, valuesPerSequence: Int
    ) {
        for sequence in 0..<sequences {
            keyed(first + sequence).apply(to: values + sequence * valuesPerSequence, count: valuesPerSequence)
        }
    }
}

/// Dropout on attention probabilities [B,NH,T,T]: one mask per (sequence, head), keyed like
/// `DropoutMask.applyPerSequence` so that lanes draw what the whole batch would.
struct AttentionDropout: Sendable {
    let mask: DropoutMask
    let firstSequence: Int

    /// Masks the T×T probabilities (or their gradient) of one (batch, head) pair in place.
    func apply<Scalar: TrainingScalar>(to values: UnsafeMutablePointer<Scalar>, pair: Int, headCount: Int, time: Int) {
        mask.keyed(firstSequence + pair / headCount).keyed(pair % headCount).apply(to: values, count: time * time)
    }
}
