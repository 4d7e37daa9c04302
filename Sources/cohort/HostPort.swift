import ArgumentParser
import Wire

/// A `HOST:PORT` command-line value (`[v6-address]:PORT` for IPv6 literals).
struct HostPort: ExpressibleByArgument, CustomStringConvertible {
    let endpoint: Endpoint

    init?(argument: String) {
        guard let endpoint = try? Self.parse(argument) else { return nil }
        self.endpoint = endpoint
    }

    var description: String { endpoint.description }

    static var defaultCompletionKind: CompletionKind { .default }

    /// The endpoint in `text`, or an error that says what is wrong with it.
    static func parse(_ text: String) throws -> Endpoint {
        do {
            return try Endpoint(parsing: text)
        } catch {
            throw ValidationError(error.description)
        }
    }
}

extension Array where Element == String {
    /// Parses every `HOST:PORT` value, or throws the first error.
    func endpoints() throws -> [Endpoint] { try map(HostPort.parse) }
}
