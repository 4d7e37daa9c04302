import Foundation

extension AlibiResults: ExperimentResults {
    public func figures() -> [String: String] { AlibiFigures.render(self) }
}

extension TemperatureResults: ExperimentResults {
    public func figures() -> [String: String] { TemperatureFigures.render(self) }
}

extension AugRegResults: ExperimentResults {
    public func figures() -> [String: String] { AugRegFigures.render(self) }
    public var summary: String { gridTable + "\n" + String(format: "total %.1f min", totalSeconds / 60) }
}
