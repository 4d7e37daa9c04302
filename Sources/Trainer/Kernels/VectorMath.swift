/// Vectorised exp and tanh for Float, the transcendental functions of GELU and the softmaxes.
///
/// glibc's scalar tanhf and expf dominated a training step (a third of it in GELU alone); these
/// work sixteen lanes at a time. exp: range reduction x = n·ln2 + r with |r| ≤ ln2/2, a
/// degree-6 Taylor polynomial for e^r (truncation error below 1.2e-7 relative), and 2^n built
/// in the exponent bits. tanh(u) = 1 − 2/(e^{2u} + 1), accurate to ~1e-7 absolute.
enum VectorMath {
    typealias Lanes = SIMD16<Float>

    @inline(__always)
    static func exp(_ x: Lanes) -> Lanes {
        var clamped = x.replacing(with: -87.0, where: x .< -87.0)
        clamped.replace(with: 88.0, where: clamped .> 88.0)
        // Adding 1.5·2²³ rounds x·log2(e) to an integer n held in the low mantissa bits; this
        // avoids a float-to-int conversion, which the standard library does lane by lane.
        let magic: Float = 12_582_912
        let shifted = clamped * 1.442_695_04 + magic
        let n = shifted - magic
        let r = clamped - n * 0.693_145_751_953_125 - n * 1.428_606_765_330_187_045e-6
        var p = Lanes(repeating: 1.0 / 720)
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        let integerBits = unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- unsafeBitCast(Lanes(repeating: magic), to: SIMD16<Int32>.self)
        let exponent = (integerBits &+ 127) &<< 23
        return p * unsafeBitCast(exponent, to: Lanes.self)
    }

    @inline(__always)
    static func tanh(_ x: Lanes) -> Lanes {
        1 - 2 / (exp(2 * x) + 1)
    }

    /// values[i] = e^values[i]
    static func expInPlace(_ values: UnsafeMutablePointer<Float>, count: Int) {
        applyInPlace(values, count: count, exp)
    }

    /// values[i] = tanh(values[i])
    static func tanhInPlace(_ values: UnsafeMutablePointer<Float>, count: Int) {
        applyInPlace(values, count: count, tanh)
    }

    @inline(__always)
    private static func applyInPlace(_ values: UnsafeMutablePointer<Float>, count: Int, _ function: (Lanes) -> Lanes) {
        let raw = UnsafeMutableRawPointer(values)
        var index = 0
        while index + 16 <= count {
            let lanes = raw.loadUnaligned(fromByteOffset: index * 4, as: Lanes.self)
            raw.storeBytes(of: function(lanes), toByteOffset: index * 4, as: Lanes.self)
            index += 16
        }
        if index < count {
            var tail = Lanes(repeating: 0)
            for lane in 0..<(count - index) { tail[lane] = values[index + lane] }
            let result = function(tail)
            for lane in 0..<(count - index) { values[index + lane] = result[lane] }
        }
    }
}
