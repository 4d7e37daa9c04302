/// IEEE 754 binary16 conversion by bit manipulation, identical on every platform (Swift's
/// `Float16` is missing on Intel macOS).
enum HalfPrecision {
    /// The largest finite half, 65504, as bits.
    static let largestFiniteBits: UInt16 = 0x7BFF

    /// Rounds to the nearest half (ties to even); magnitudes beyond 65504 (and ±∞) clamp to
    /// ±65504; NaN becomes the quiet half NaN.
    static func bits(of value: Float) -> UInt16 {
        let bits = value.bitPattern
        let sign = UInt16(truncatingIfNeeded: bits >> 16) & 0x8000
        let biasedExponent = Int((bits >> 23) & 0xFF)
        let mantissa = bits & 0x7F_FFFF
        if biasedExponent == 0xFF {
            return sign | (mantissa != 0 ? 0x7E00 : largestFiniteBits)
        }
        let halfExponent = biasedExponent - 127 + 15
        if halfExponent >= 31 {
            return sign | largestFiniteBits
        }
        if halfExponent <= 0 {
            // Half subnormal: the value in units of 2⁻²⁴ is the 24-bit significand shifted right.
            let shift = 14 - halfExponent
            guard shift <= 24 else { return sign }
            let significand = biasedExponent == 0 ? mantissa : mantissa | 0x80_0000
            return sign | UInt16(roundedShift(significand, by: UInt32(shift)))
        }
        let rounded = UInt32(halfExponent) << 10 + roundedShift(mantissa, by: 13)
        return sign | UInt16(min(rounded, UInt32(largestFiniteBits)))
    }

    /// `value >> shift`, rounded to nearest, ties to even.
    private static func roundedShift(_ value: UInt32, by shift: UInt32) -> UInt32 {
        let truncated = value >> shift
        let remainder = value & ((1 << shift) - 1)
        let halfway: UInt32 = 1 << (shift - 1)
        let roundsUp = remainder > halfway || (remainder == halfway && truncated & 1 == 1)
        return truncated + (roundsUp ? 1 : 0)
    }

    /// The exact float32 value of a half.
    static func value(of bits: UInt16) -> Float {
        let sign: UInt32 = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1F
        let mantissa = UInt32(bits & 0x3FF)
        switch exponent {
        case 0:
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        case 31:
            return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)
        default:
            return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
        }
    }
}
