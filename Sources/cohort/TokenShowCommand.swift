import Admission
import ArgumentParser
import CohortBase
import Foundation

/// `cohort token show FILE`: what a token says, for volunteers and operators.
struct TokenShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Print what an access token file says.")

    @Argument(help: "The token file.") var file: String
    @Flag(help: "Print a JSON object.") var json = false

    func run() throws {
        let token = try AccessToken(contentsOfFile: file)
        let claims = token.claims
        let fields: [(String, Any)] = [
            ("run", claims.runName), ("name", claims.name), ("peer_key", claims.peerPublicKey.hexString),
            ("serial", claims.serial), ("issued_at", claims.issuedAt.iso8601), ("expires_at", claims.expiresAt.iso8601),
            ("issuer_key", token.issuerPublicKey.hexString), ("signature_valid", token.hasValidSignature),
        ]
        if json {
            printJSON(Dictionary(uniqueKeysWithValues: fields))
        } else {
            for (name, value) in fields { print("\(name): \(value)") }
        }
    }
}
