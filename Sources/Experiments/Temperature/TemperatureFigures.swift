import Foundation

/// The temperature experiment's plots, drawn from its results alone (so `--figures-from` can
/// redraw them without training).
public enum TemperatureFigures {
    /// File name → SVG text.
    public static func render(_ results: TemperatureResults) -> [String: String] {
        var figures: [String: String] = [:]
        for momentum in Set(results.invariance.map(\.momentum)).sorted() {
            let curves = results.invariance.filter { $0.momentum == momentum }
            let batches = Set(curves.map(\.batch)).sorted()
            let bands = batches.map { batch in seedBand(name: "B = \(batch)", curves.filter { $0.batch == batch }) }
            let title = String(format: "Validation loss at T = %@, momentum %g (seed mean, min–max)", temperatureText(results.temperature), momentum)
            figures[String(format: "invariance-momentum-%g.svg", momentum)] = SVGPlot.bands(
                bands, labels: SVGPlot.Labels(title: title, x: "samples seen (sequences)", y: "validation loss (nats/byte)"))
        }
        figures["sweep-sharpness.svg"] = sweepPlot(results, title: "Sharpness at the end against T", y: "top Hessian eigenvalue",
                                                   lines: [("sharpness", { $0.sharpness?.eigenvalue }), ("2 / lr", { 2 / $0.learningRate })])
        figures["sweep-validation.svg"] = sweepPlot(results, title: "Final validation loss against T", y: "validation loss (nats/byte)",
                                                    lines: [("validation", { $0.finalValidationLoss })])
        figures["noise-scale.svg"] = noiseScalePlot(results)
        figures["batch-jitter.svg"] = jitterPlot(results)
        figures["stability.svg"] = stabilityPlot(results)
        return figures
    }

    /// The mean validation loss of the curves that did not diverge, between their minimum and
    /// maximum, per checkpoint; the legend says how many seeds survived when some did not.
    static func seedBand(name: String, _ curves: [TemperatureResults.Curve]) -> SVGPlot.Band {
        let surviving = curves.filter { $0.divergedAtSamples == nil }
        let label = surviving.count == curves.count ? name : "\(name) (\(surviving.count) of \(curves.count) seeds)"
        guard let first = surviving.first else { return SVGPlot.Band(name: label, points: []) }
        return SVGPlot.Band(name: label, points: first.checkpoints.indices.map { index in
            let values = surviving.compactMap { index < $0.checkpoints.count ? $0.checkpoints[index].validationLoss : nil }
            let samples = surviving.map { Double($0.checkpoints[min(index, $0.checkpoints.count - 1)].samples) }
            let x = samples.reduce(0, +) / Double(samples.count)
            guard values.count == surviving.count, let low = values.min(), let high = values.max() else { return (x, 0, nil, 0) }
            return (x, low, values.reduce(0, +) / Double(values.count), high)
        })
    }

    static func sweepPlot(_ results: TemperatureResults, title: String, y: String,
                          lines: [(name: String, value: (TemperatureResults.Curve) -> Double?)]) -> String {
        let sweep = results.sweep.sorted { $0.temperature < $1.temperature }
        let batch = sweep.first?.batch ?? 0
        let series = lines.map { line in
            SVGPlot.Series(name: line.name, points: sweep.map { (x: 1000 * $0.temperature, y: line.value($0)) })
        }
        return SVGPlot.lines(series, labels: SVGPlot.Labels(title: "\(title) (B = \(batch), momentum 0)", x: "temperature T = lr / B (× 10⁻³)", y: y),
                             xTicks: sweep.map { 1000 * $0.temperature })
    }

    static func noiseScalePlot(_ results: TemperatureResults) -> String {
        let points = results.noiseScale.map { (x: Double($0.samples), low: $0.simple ?? 0, middle: $0.simple, high: $0.simple ?? 0) }
        let batches = results.noiseScale.first.map { "B = \($0.smallBatch) and \($0.bigBatch)" } ?? ""
        return SVGPlot.bands([SVGPlot.Band(name: "B_simple", points: points)], labels: SVGPlot.Labels(
            title: "Gradient noise scale tr(Σ)/|G|² from \(batches)", x: "samples seen (sequences)", y: "B_simple (sequences)"))
    }

    static func jitterPlot(_ results: TemperatureResults) -> String {
        guard let batch = results.jitter.first?.batch, let momentum = results.jitter.first?.momentum else {
            return SVGPlot.bands([], labels: SVGPlot.Labels(title: "no batch-jitter runs", x: "", y: ""))
        }
        let fixed = results.invariance.filter { $0.batch == batch && $0.momentum == momentum }
        let modes = ["jittered-lr-follows-actual": "lr = T × actual", "jittered-lr-follows-target": "lr = T × target"]
        let bands = [seedBand(name: "fixed B = \(batch)", fixed)] + modes.sorted { $0.key < $1.key }.map { mode, name in
            seedBand(name: name, results.jitter.filter { $0.mode == mode })
        }
        return SVGPlot.bands(bands, labels: SVGPlot.Labels(
            title: String(format: "Batch drawn in [%d, %d] each step, momentum %g", batch, batch * 3 / 2, momentum),
            x: "samples seen (sequences)", y: "validation loss (nats/byte)"))
    }

    static func stabilityPlot(_ results: TemperatureResults) -> String {
        let bands = results.stability.map { run in
            SVGPlot.Band(name: String(format: "B %d, lr %.2f", run.batch, run.learningRate), points: run.trainingLosses.enumerated().map { step, loss in
                (x: Double((step + 1) * run.batch), low: loss, middle: loss, high: loss)
            })
        }
        return SVGPlot.bands(bands, labels: SVGPlot.Labels(
            title: "\(results.stabilityModel), T = \(temperatureText(results.stabilityTemperature)), momentum 0.9",
            x: "samples seen (sequences)", y: "training loss (nats/byte)"))
    }

    static func temperatureText(_ temperature: Double) -> String { String(format: "%.4g", temperature) }
}
