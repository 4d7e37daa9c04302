import Testing
import Wire

@Suite struct EndpointParsingTests {
    @Test func hostPortAndBracketedIPv6Parse() throws {
        #expect(try Endpoint(parsing: "127.0.0.1:7000") == Endpoint(host: "127.0.0.1", port: 7000))
        #expect(try Endpoint(parsing: "coordinator.example.org:0") == Endpoint(host: "coordinator.example.org", port: 0))
        #expect(try Endpoint(parsing: "[::1]:7001") == Endpoint(host: "::1", port: 7001))
    }

    @Test(arguments: ["7000", ":7000", "host:", "host:70000", "::1:7000", "[::1]7000", "bad host:1"])
    func malformedTextsAreRefusedWithAReason(text: String) {
        #expect(throws: Endpoint.ParseError.self) { try Endpoint(parsing: text) }
    }
}
