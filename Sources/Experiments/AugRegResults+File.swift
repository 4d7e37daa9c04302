import Foundation

extension AugRegResults {
    public static let fileName = ResultsFile.name

    /// results.json (see `ResultsFile`).
    public func write(to folder: URL) throws { try ResultsFile.write(self, to: folder) }

    public static func read(from folder: URL) throws -> AugRegResults { try ResultsFile.read(AugRegResults.self, from: folder) }

    /// Writes each figure of `AugRegFigures` into `folder`.
    public func writeFigures(to folder: URL) throws -> [URL] { try ResultsFile.writeFigures(AugRegFigures.render(self), to: folder) }
}
