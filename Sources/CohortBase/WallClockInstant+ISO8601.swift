import Foundation

extension WallClockInstant {
    /// The instant in ISO 8601 (UTC, whole seconds), for operators' logs and command output.
    public var iso8601: String {
        ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(millisecondsSinceEpoch) / 1000))
    }
}
