/// SGD with momentum (heavy-ball or Nesterov), decoupled weight decay and gradient-norm clipping.
///
/// Every operation is elementwise in a fixed order on the flat arena, so peers that apply the
/// same averaged gradient to the same parameters end with bit-identical parameters.
public struct SGDSettings: Equatable, Sendable, Codable {
    public var momentum: Double = 0.9
    public var nesterov: Bool = false
    /// Decoupled decay (Loshchilov & Hutter): p ← p − lr·λ·p, applied to matrices only.
    public var weightDecay: Double = 0
    /// Gradients whose global L2 norm exceeds this are scaled down to it; 0 disables clipping.
    public var gradientClipNorm: Double = 1

    public init(momentum: Double = 0.9, nesterov: Bool = false, weightDecay: Double = 0, gradientClipNorm: Double = 1) {
        self.momentum = momentum
        self.nesterov = nesterov
        self.weightDecay = weightDecay
        self.gradientClipNorm = gradientClipNorm
    }
}

public final class SGDOptimizer {
    public let settings: SGDSettings
    public let momentumBuffer: FlatBuffer<Float>
    /// Optimizer steps taken so far.
    public var step: Int = 0
    private let decayMask: [Range<Int>]

    public init(settings: SGDSettings, layout: ParameterLayout) {
        self.settings = settings
        momentumBuffer = FlatBuffer(count: layout.parameterCount)
        decayMask = layout.tensors.filter(\.decays).map { $0.offset..<($0.offset + $0.count) }
    }

    /// An optimizer for `parameterCount` elements that all skip weight decay, such as the
    /// embedding rows a prompt-tuning run trains.
    public init(settings: SGDSettings, parameterCount: Int) {
        self.settings = settings
        momentumBuffer = FlatBuffer(count: parameterCount)
        decayMask = []
    }

    /// The global L2 norm of `gradients`, summed in float64 in a fixed order.
    public static func norm(of gradients: FlatBuffer<Float>) -> Double {
        norm(of: gradients, over: [0..<gradients.count])
    }

    /// The L2 norm of the elements of `gradients` in `ranges`, summed in float64 in a fixed order.
    static func norm(of gradients: FlatBuffer<Float>, over ranges: [Range<Int>]) -> Double {
        var sum = 0.0
        for range in ranges {
            for index in range {
                let g = Double(gradients[index])
                sum += g * g
            }
        }
        return sum.squareRoot()
    }

    /// Applies one update with learning rate `rate` and returns the gradient norm before clipping.
    /// Elements in `skipped` keep their parameters and momentum: a part that a collaborative
    /// round could not average is left alone by every member alike. The norm (and so the
    /// clipping) covers the updated elements only: the skipped ones hold each member's own
    /// gradient, which must not change how the averaged ones are scaled.
    ///
    /// A gradient holding a non-finite value (its norm is then not finite) changes nothing but
    /// the step count: one NaN from a faulty or hostile averaging partner would otherwise spread
    /// through momentum into every parameter. Every member given the same gradient skips alike.
    @discardableResult
    public func apply(gradients: FlatBuffer<Float>, to parameters: FlatBuffer<Float>, rate: Double,
                      skipping skipped: [Range<Int>] = []) -> Double {
        precondition(gradients.count == parameters.count && parameters.count == momentumBuffer.count,
                     "optimizer buffers differ: \(gradients.count), \(parameters.count), \(momentumBuffer.count)")
        let updated = Self.complement(of: skipped, in: 0..<parameters.count)
        let norm = Self.norm(of: gradients, over: updated)
        guard norm.isFinite else {
            step += 1
            return norm
        }
        let clip = settings.gradientClipNorm
        let gradientScale = Float(clip > 0 && norm > clip ? clip / norm : 1)
        let mu = Float(settings.momentum), lr = Float(rate)
        let g = gradients.base, p = parameters.base, v = momentumBuffer.base
        if settings.weightDecay > 0 {
            let keep = 1 - lr * Float(settings.weightDecay)
            for range in decayMask {
                for part in updated where part.overlaps(range) {
                    for index in part.clamped(to: range) { p[index] *= keep }
                }
            }
        }
        for range in updated {
            if settings.nesterov {
                for index in range {
                    let gradient = g[index] * gradientScale
                    let velocity = mu * v[index] + gradient
                    v[index] = velocity
                    p[index] -= lr * (gradient + mu * velocity)
                }
            } else {
                for index in range {
                    let velocity = mu * v[index] + g[index] * gradientScale
                    v[index] = velocity
                    p[index] -= lr * velocity
                }
            }
        }
        step += 1
        return norm
    }

    /// The parts of `whole` not covered by `holes`, in order.
    static func complement(of holes: [Range<Int>], in whole: Range<Int>) -> [Range<Int>] {
        var parts: [Range<Int>] = []
        var start = whole.lowerBound
        for hole in holes.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            let clamped = hole.clamped(to: whole)
            if clamped.lowerBound > start { parts.append(start..<clamped.lowerBound) }
            start = max(start, clamped.upperBound)
        }
        if start < whole.upperBound { parts.append(start..<whole.upperBound) }
        return parts
    }
}
