import Foundation
import Testing
@testable import Trainer

@Suite struct VectorMathTests {
    @Test func expIsWithinTwoUlpsOverTheSoftmaxRange() {
        var values = stride(from: -80.0, through: 80.0, by: 0.0137).map { Float($0) }
        let inputs = values
        VectorMath.expInPlace(&values, count: values.count)
        for (x, e) in zip(inputs, values) {
            let exact = Foundation.exp(Double(x))
            #expect(abs(Double(e) - exact) / exact < 3e-7, "exp(\(x))")
        }
    }

    @Test func tanhIsWithinOneMillionthEverywhere() {
        var values = stride(from: -30.0, through: 30.0, by: 0.00731).map { Float($0) } + [0, .greatestFiniteMagnitude, -.greatestFiniteMagnitude]
        let inputs = values
        VectorMath.tanhInPlace(&values, count: values.count)
        for (x, t) in zip(inputs, values) {
            #expect(abs(Double(t) - Foundation.tanh(Double(x))) < 1e-6, "tanh(\(x))")
        }
    }

    @Test func shortRunsUseTheTailPath() {
        var values: [Float] = [0, 1, -1]
        VectorMath.expInPlace(&values, count: 3)
        #expect(values[0] == 1)
        #expect(abs(values[1] - Float(M_E)) < 1e-6)
        #expect(abs(values[2] - Float(1 / M_E)) < 1e-7)
    }
}
