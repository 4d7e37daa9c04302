import Admission
import ArgumentParser

/// A `--token FILE` argument: the access token in the file, or a validation error naming the
/// file and what is wrong with it.
enum TokenFileArgument {
    static func load(_ path: String?) throws -> AccessToken? {
        guard let path else { return nil }
        do {
            return try AccessToken(contentsOfFile: path)
        } catch {
            throw ValidationError(error.description)
        }
    }
}
