import Foundation
import Trainer

/// What `cohort experiment augreg` measured, as written to results.json.
public struct AugRegResults: Codable, Equatable, Sendable {
    /// Validation loss on the curve's fixed windows after `step` steps.
    public struct CurvePoint: Codable, Equatable, Sendable {
        public let step: Int
        public let tokens: Int
        public let validationLoss: Double
    }

    public struct Arm: Codable, Equatable, Sendable {
        /// e.g. "30% reg 3×".
        public let name: String
        public let dataFraction: Double
        public let trainingBytes: Int
        public let regularized: Bool
        public let computeMultiple: Int
        public let steps: Int
        /// Passes over the arm's training bytes.
        public let epochs: Double
        /// Mean training loss of the last ten steps (on corrupted inputs for "reg" arms).
        public let finalTrainingLoss: Double
        /// Nats per byte on the held-out split, non-overlapping windows of the trained context.
        public let validationLoss: Double
        /// The same score on the first bytes of the arm's own training data: the gap to
        /// `validationLoss` is how much it memorised.
        public let trainingSubsetLoss: Double
        public let curve: [CurvePoint]
        public let trainingSeconds: Double
    }

    public let experiment: String
    public let paper: String
    public let corpus: String
    /// Bytes of the whole training split (the 100 % arms').
    public let trainingBytes: Int
    public let validationBytes: Int
    public let model: String
    public let parameters: Int
    public let tokensPerStep: Int
    public let baseSteps: Int
    public let regularization: RegularizationSettings
    public let arms: [Arm]
    public let totalSeconds: Double

    public func arm(fraction: Double, regularized: Bool, computeMultiple: Int) -> Arm? {
        arms.first { $0.dataFraction == fraction && $0.regularized == regularized && $0.computeMultiple == computeMultiple }
    }

    public var dataFractions: [Double] { arms.map(\.dataFraction).reduce(into: []) { if !$0.contains($1) { $0.append($1) } } }
    public var computeMultiples: [Int] { arms.map(\.computeMultiple).reduce(into: []) { if !$0.contains($1) { $0.append($1) } } }

    /// The data-vs-compute grid of held-out loss as a Markdown table (Steiner et al.'s
    /// data-vs-compute comparison): a row per data fraction, a column per compute multiple and regularisation.
    public var gridTable: String {
        let columns = computeMultiples.flatMap { multiple in [false, true].map { (multiple, $0) } }
        var lines = ["| training data | " + columns.map { "\($0.0)× \($0.1 ? "reg" : "plain")" }.joined(separator: " | ") + " |",
                     "|---|" + String(repeating: "---|", count: columns.count)]
        for fraction in dataFractions {
            let bytes = arms.first { $0.dataFraction == fraction }?.trainingBytes ?? 0
            let cells = columns.map { multiple, regularized in
                arm(fraction: fraction, regularized: regularized, computeMultiple: multiple).map { String(format: "%.4f", $0.validationLoss) } ?? "n/a"
            }
            lines.append("| \(Int((fraction * 100).rounded())) % (\(bytes) bytes) | " + cells.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n")
    }
}
