@testable import Trainer

/// The bound on ‖emulated − cpu‖ / ‖cpu‖ for kernels that compute in float32 with a different
/// summation order than the CPU (warp and block reductions): a few ulps of float32 per element.
let float32Tolerance = 1e-5

/// ‖actual − expected‖₂ / ‖expected‖₂, in float64.
func relativeError(_ actual: [Float], _ expected: [Float]) -> Double {
    precondition(actual.count == expected.count, "comparing \(actual.count) values with \(expected.count)")
    var difference = 0.0, norm = 0.0
    for (a, e) in zip(actual, expected) {
        difference += (Double(a) - Double(e)) * (Double(a) - Double(e))
        norm += Double(e) * Double(e)
    }
    return (difference / norm).squareRoot()
}

/// Uniform values in `range`, from a seeded generator so every run sees the same inputs.
func randomFloats(_ count: Int, in range: ClosedRange<Float> = -2...2, generator: inout SeededGenerator) -> [Float] {
    (0..<count).map { _ in Float.random(in: range, using: &generator) }
}

/// The CPU optimizer's buffer type holding `values`.
func flatBuffer(_ values: [Float]) -> FlatBuffer<Float> {
    let buffer = FlatBuffer<Float>(count: values.count)
    buffer.base.update(from: values, count: values.count)
    return buffer
}

/// The index of the first element whose bits differ (−0 and 0 differ, a NaN equals itself), or
/// nil when the arrays are equal bit for bit.
func firstBitDifference(_ actual: [Float], _ expected: [Float]) -> Int? {
    precondition(actual.count == expected.count, "comparing \(actual.count) values with \(expected.count)")
    return actual.indices.first { actual[$0].bitPattern != expected[$0].bitPattern }
}

extension EmulatedBuffer where Element == Float {
    /// NaN-filled, so that the elements a kernel does not write show.
    static func poisoned(count: Int) -> EmulatedBuffer<Float> { EmulatedBuffer(repeating: .nan, count: count) }

    var isFullyWritten: Bool { !array.contains { $0.isNaN } }

    var pointer: UnsafePointer<Float> { UnsafePointer(base) }
}
