import Foundation

/// Absolute position vectors added to the token embeddings, the controls of ALiBi's study
/// (Press et al., arXiv 2108.12409, §4): x[b,t,:] += P[t,:].
///
/// Legend: B batch, T time, C channels, N = B·T rows; row r is at position r mod T.
enum AbsolutePositions {
    /// The sinusoids' amplitude: √2 · 0.02 gives them the root-mean-square of the token
    /// embeddings at initialisation (N(0, 0.02)), so that the embedding LayerNorm starts out
    /// hearing position and token equally.
    static let sinusoidAmplitude = 0.02 * 2.0.squareRoot()

    /// P[T,C] of Vaswani et al. §3.5: P[t,2i] = sin(t·ω_i), P[t,2i+1] = cos(t·ω_i) with
    /// ω_i = 10000^(−2i/C), times `sinusoidAmplitude`.
    static func sinusoidTable<Scalar: TrainingScalar>(time: Int, channels c: Int) -> [Scalar] {
        var table = [Scalar](repeating: 0, count: time * c)
        for t in 0..<time {
            for column in 0..<c {
                let frequency = pow(10_000.0, -Double(column - column % 2) / Double(c))
                let angle = Double(t) * frequency
                table[t * c + column] = Scalar(sinusoidAmplitude * (column % 2 == 0 ? sin(angle) : cos(angle)))
            }
        }
        return table
    }

    /// x[N,C] += P[r mod T, C].
    static func forward<Scalar: TrainingScalar>(
        embedded x: UnsafeMutablePointer<Scalar>, table: UnsafePointer<Scalar>, rows n: Int, time: Int, channels c: Int
    ) {
        for row in 0..<n {
            let xRow = x + row * c, pRow = table + (row % time) * c
            for column in 0..<c { xRow[column] += pRow[column] }
        }
    }

    /// dP[T,C] += Σ over the rows r at position t of dx[r,:] (accumulates, like every backward).
    static func backward<Scalar: TrainingScalar>(
        tableGradient dp: UnsafeMutablePointer<Scalar>, embeddedGradient dx: UnsafePointer<Scalar>,
        rows n: Int, time: Int, channels c: Int
    ) {
        for row in 0..<n {
            let dxRow = dx + row * c, dpRow = dp + (row % time) * c
            for column in 0..<c { dpRow[column] += dxRow[column] }
        }
    }
}
