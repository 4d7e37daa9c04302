/// A GPU architecture as NVIDIA numbers it: 9.0 for Hopper, 8.0/8.6/8.9 for Ampere and Ada.
public struct ComputeCapability: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let major: Int
    public let minor: Int

    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    /// NVRTC's number for it (90 for 9.0).
    var number: Int { major * 10 + minor }

    public var description: String { "\(major).\(minor)" }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.number < rhs.number }
}
