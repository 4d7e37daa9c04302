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
        let host: Substring
        let port: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw ValidationError("\"\(text)\" needs a port: [ADDRESS]:PORT") }
            port = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else {
                throw ValidationError("\"\(text)\" is not HOST:PORT")
            }
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, host.utf8.count <= WireLimits.maxHostBytes, !host.contains(where: \.isWhitespace) else {
            throw ValidationError("\"\(text)\" has no valid host")
        }
        guard let number = UInt16(port) else { throw ValidationError("\"\(text)\": port must be a number from 0 to 65535") }
        return Endpoint(host: String(host), port: number)
    }
}

extension Array where Element == String {
    /// Parses every `HOST:PORT` value, or throws the first error.
    func endpoints() throws -> [Endpoint] { try map(HostPort.parse) }
}
