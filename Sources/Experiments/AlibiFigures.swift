/// The ALiBi experiment's plots, drawn from its results alone (so `--figures-from` can redraw
/// them without training).
public enum AlibiFigures {
    /// File name → SVG text.
    public static func render(_ results: AlibiResults) -> [String: String] {
        let contexts = results.evaluationContexts.map(Double.init)
        func curves(halfStride: Bool) -> [SVGPlot.Series] {
            results.models.map { model in
                SVGPlot.Series(name: model.name, points: results.evaluationContexts.map { context in
                    (x: Double(context), y: model.perplexity(context: context, stride: halfStride ? context / 2 : context))
                })
            }
        }
        let l = results.trainedContext
        let nonOverlapping = SVGPlot.lines(curves(halfStride: false), labels: SVGPlot.Labels(
            title: "Validation perplexity, non-overlapping windows (trained at L = \(l))",
            x: "evaluation window (tokens)", y: "perplexity"), xTicks: contexts)
        let sliding = SVGPlot.lines(curves(halfStride: true), labels: SVGPlot.Labels(
            title: "Validation perplexity, sliding windows (stride = window / 2)",
            x: "evaluation window (tokens)", y: "perplexity"), xTicks: contexts)
        return [
            "perplexity-nonoverlapping.svg": nonOverlapping,
            "perplexity-sliding.svg": sliding,
            "train-short-test-long.svg": claimBars(results),
        ]
    }

    /// The paper's headline comparison at 2L: ALiBi trained at L against sinusoids trained at
    /// 2L (and at L), both ways of scoring.
    static func claimBars(_ results: AlibiResults) -> String {
        let l = results.trainedContext
        let names = ["alibi@\(l)", "sinusoidal@\(2 * l)", "sinusoidal@\(l)"]
        let series = names.compactMap { name in results.models.first { $0.name == name } }.map { model in
            (name: model.name, values: [model.perplexity(context: 2 * l, stride: 2 * l), model.perplexity(context: 2 * l, stride: l)])
        }
        return SVGPlot.bars(
            categories: ["non-overlapping", "sliding (stride \(l))"], series: series,
            labels: SVGPlot.Labels(title: "Perplexity at 2L = \(2 * l): trained at L vs trained at 2L", x: "scoring", y: "perplexity"))
    }
}
