import Foundation

/// How every experiment stores its results and figures: results.json with snake_case keys, where
/// a non-finite number (a diverged arm) is written as a string instead of making the whole file
/// fail to encode, and the SVGs beside it.
enum ResultsFile {
    static let name = "results.json"

    static func write<Results: Encodable>(_ results: Results, to folder: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try encoder.encode(results).write(to: folder.appendingPathComponent(name), options: .atomic)
    }

    static func read<Results: Decodable>(_ type: Results.Type, from folder: URL) throws -> Results {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try decoder.decode(type, from: Data(contentsOf: folder.appendingPathComponent(name)))
    }

    /// Writes each file name → SVG text into `folder`; returns the files in name order.
    static func writeFigures(_ figures: [String: String], to folder: URL) throws -> [URL] {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return try figures.sorted { $0.key < $1.key }.map { name, svg in
            let url = folder.appendingPathComponent(name)
            try Data(svg.utf8).write(to: url, options: .atomic)
            return url
        }
    }
}

/// A study's results as `cohort experiment` handles them: written as results.json with its
/// figures beside it, or read back to redraw the figures.
public protocol ExperimentResults: Codable {
    /// The figures, file name → SVG text.
    func figures() -> [String: String]
    /// What to print after the files written, such as the study's table; empty by default.
    var summary: String { get }
}

extension ExperimentResults {
    public static var fileName: String { ResultsFile.name }

    public var summary: String { "" }

    /// results.json (see `ResultsFile`).
    public func write(to folder: URL) throws { try ResultsFile.write(self, to: folder) }

    public static func read(from folder: URL) throws -> Self { try ResultsFile.read(Self.self, from: folder) }

    /// Writes each figure into `folder`; returns the files in name order.
    public func writeFigures(to folder: URL) throws -> [URL] { try ResultsFile.writeFigures(figures(), to: folder) }
}
