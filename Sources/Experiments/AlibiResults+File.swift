import Foundation

extension AlibiResults {
    public static let fileName = ResultsFile.name

    /// results.json (see `ResultsFile`).
    public func write(to folder: URL) throws { try ResultsFile.write(self, to: folder) }

    public static func read(from folder: URL) throws -> AlibiResults { try ResultsFile.read(AlibiResults.self, from: folder) }

    /// Writes each figure of `AlibiFigures` into `folder`.
    public func writeFigures(to folder: URL) throws -> [URL] { try ResultsFile.writeFigures(AlibiFigures.render(self), to: folder) }
}
