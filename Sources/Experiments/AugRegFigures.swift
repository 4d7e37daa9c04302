import Foundation

/// The regularisation study's plots, drawn from its results alone (so `--figures-from` can
/// redraw them without training).
public enum AugRegFigures {
    /// File name → SVG text.
    public static func render(_ results: AugRegResults) -> [String: String] {
        var figures = [
            "held-out-loss-grid.svg": gridBars(results),
            "memorisation-gap.svg": gapBars(results),
        ]
        for multiple in results.computeMultiples {
            figures["validation-curves-\(multiple)x.svg"] = curves(results, computeMultiple: multiple)
        }
        return figures
    }

    static func columns(_ results: AugRegResults) -> [(multiple: Int, regularized: Bool, name: String)] {
        results.computeMultiples.flatMap { multiple in
            [false, true].map { (multiple, $0, "\(multiple)× \($0 ? "regularised" : "plain")") }
        }
    }

    static func categories(_ results: AugRegResults) -> [String] {
        results.dataFractions.map { "\(Int(($0 * 100).rounded())) % of training" }
    }

    /// The data-vs-compute grid as bars: one group per data fraction.
    static func gridBars(_ results: AugRegResults) -> String {
        let series = columns(results).map { column in
            (name: column.name, values: results.dataFractions.map {
                results.arm(fraction: $0, regularized: column.regularized, computeMultiple: column.multiple)?.validationLoss
            })
        }
        return SVGPlot.bars(categories: categories(results), series: series, labels: SVGPlot.Labels(
            title: "Held-out loss by training data, compute and regularisation", x: "training data", y: "nats per byte"))
    }

    /// Held-out minus own-training-data loss: how much each arm memorised.
    static func gapBars(_ results: AugRegResults) -> String {
        let series = columns(results).map { column in
            (name: column.name, values: results.dataFractions.map { fraction -> Double? in
                results.arm(fraction: fraction, regularized: column.regularized, computeMultiple: column.multiple)
                    .map { $0.validationLoss - $0.trainingSubsetLoss }
            })
        }
        return SVGPlot.bars(categories: categories(results), series: series, labels: SVGPlot.Labels(
            title: "Generalisation gap: held-out minus own-training loss", x: "training data", y: "nats per byte"))
    }

    /// Validation loss against tokens seen for the arms at one compute multiple.
    static func curves(_ results: AugRegResults, computeMultiple: Int) -> String {
        let arms = results.arms.filter { $0.computeMultiple == computeMultiple }
        let series = arms.map { arm in
            SVGPlot.Series(name: arm.name, points: arm.curve.map { (x: Double($0.tokens) / 1e6, y: $0.validationLoss) })
        }
        let xs = arms.flatMap { $0.curve.map { Double($0.tokens) / 1e6 } }
        var ticks = [xs.min() ?? 0.1]
        while let last = ticks.last, last < (xs.max() ?? 1) { ticks.append(last * 2) }
        return SVGPlot.lines(series, labels: SVGPlot.Labels(
            title: "Validation loss during training, \(computeMultiple)× compute", x: "tokens seen (millions)",
            y: "nats per byte"), xTicks: ticks)
    }
}
