import Foundation

extension TemperatureResults {
    public static let fileName = "results.json"

    /// results.json with snake_case keys; a non-finite number (a diverged run) is written as a
    /// string instead of making the whole file fail to encode.
    public func write(to folder: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try encoder.encode(self).write(to: folder.appendingPathComponent(Self.fileName), options: .atomic)
    }

    public static func read(from folder: URL) throws -> TemperatureResults {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try decoder.decode(TemperatureResults.self, from: Data(contentsOf: folder.appendingPathComponent(fileName)))
    }

    /// Writes each figure of `TemperatureFigures` into `folder`.
    public func writeFigures(to folder: URL) throws -> [URL] {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return try TemperatureFigures.render(self).sorted { $0.key < $1.key }.map { name, svg in
            let url = folder.appendingPathComponent(name)
            try Data(svg.utf8).write(to: url, options: .atomic)
            return url
        }
    }
}
