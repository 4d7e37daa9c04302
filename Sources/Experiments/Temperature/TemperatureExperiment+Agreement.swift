extension TemperatureExperiment {
    /// Per momentum and batch: the seed-mean validation curve's mean distance from the
    /// reference batch's (the smallest, nearest the small-step limit the temperature reading
    /// comes from), against the spread between seeds.
    static func agreement(of curves: [TemperatureResults.Curve], reference: (Double) -> [TemperatureResults.Curve]) -> [TemperatureResults.Agreement] {
        var groups: [[TemperatureResults.Curve]] = []
        for curve in curves {
            if let index = groups.firstIndex(where: { $0[0].momentum == curve.momentum && $0[0].batch == curve.batch && $0[0].mode == curve.mode }) {
                groups[index].append(curve)
            } else {
                groups.append([curve])
            }
        }
        return groups.map { group in
            let referenceMean = meanValidationCurve(reference(group[0].momentum))
            let mean = meanValidationCurve(group)
            let finals = group.compactMap(\.finalValidationLoss)
            let complete = finals.count == group.count
            let gaps = zip(mean, referenceMean).dropFirst().map { pair in pair.0.flatMap { a in pair.1.map { abs(a - $0) } } }
            let ranges = (1..<(group[0].checkpoints.count)).map { index -> Double? in
                let values = group.compactMap { $0.checkpoints[index].validationLoss }
                return values.count == group.count ? values.max()! - values.min()! : nil
            }
            return TemperatureResults.Agreement(
                momentum: group[0].momentum, batch: group[0].batch, learningRate: group[0].learningRate,
                finalValidationMean: complete ? finals.reduce(0, +) / Double(finals.count) : nil,
                finalValidationMin: complete ? finals.min() : nil, finalValidationMax: complete ? finals.max() : nil,
                meanGapToReference: averageIfComplete(gaps), meanSeedRange: averageIfComplete(ranges),
                divergedSeeds: group.filter { $0.divergedAtSamples != nil }.count)
        }
    }

    /// Per checkpoint, the mean validation loss over the curves; nil where any is missing.
    static func meanValidationCurve(_ curves: [TemperatureResults.Curve]) -> [Double?] {
        guard let first = curves.first else { return [] }
        return first.checkpoints.indices.map { index in
            let values = curves.compactMap { index < $0.checkpoints.count ? $0.checkpoints[index].validationLoss : nil }
            return values.count == curves.count ? values.reduce(0, +) / Double(values.count) : nil
        }
    }

    static func averageIfComplete(_ values: [Double?]) -> Double? {
        let present = values.compactMap { $0 }
        return !present.isEmpty && present.count == values.count ? present.reduce(0, +) / Double(present.count) : nil
    }
}
