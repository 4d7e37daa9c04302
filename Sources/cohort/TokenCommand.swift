import Admission
import ArgumentParser
import CohortBase
import Foundation

/// `cohort token`: admit volunteers to a run, and revoke them.
struct TokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Issue, revoke and inspect access tokens of an admitted-only run.",
        discussion: """
            A run started without --open admits only peers presenting a token signed by the \
            coordinator's key. A volunteer sends you the key printed by cohort peer --identity FILE \
            --print-key; you send back the token file; they join with cohort peer --token FILE.
            """,
        subcommands: [TokenIssueCommand.self, TokenRevokeCommand.self, TokenShowCommand.self])
}

/// `cohort token issue`: sign a token for one volunteer key.
struct TokenIssueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "issue", abstract: "Sign an access token admitting one volunteer's key to the run.")

    @OptionGroup var runKey: RunKeyOptions
    @Option(help: "The volunteer's public key: 64 hex digits, or a file holding them.") var peerKey: String
    @Option(help: "Who the token is for, as the run's logs will name them (1–64 bytes).") var name: String
    @Option(help: "How long the token admits: a number with s, m, h or d.") var expires: String = "30d"
    @Option(help: "Write the token to FILE (default: print it).") var out: String?

    func validate() throws {
        _ = try PublicKeyArgument.parse(peerKey, option: "--peer-key")
        _ = try Lifetime.duration(parsing: expires, option: "--expires")
    }

    func run() throws {
        let key = try runKey.loadRunKey()
        let peer = try PublicKeyArgument.parse(peerKey, option: "--peer-key")
        guard peer != key.publicKey else { throw ValidationError("--peer-key is the run key itself, which needs no token") }
        let now = SystemClock().now().wall
        let claims = AccessToken.Claims(runName: runKey.run, peerPublicKey: peer, name: name, serial: UInt64.random(in: 1...UInt64.max),
                                        issuedAt: now, expiresAt: now + (try Lifetime.duration(parsing: expires, option: "--expires")))
        let token = try AccessToken(signing: claims, with: key.privateKey)
        guard let out else {
            print(token.text, terminator: "")
            return
        }
        try Data(token.text.utf8).write(to: URL(fileURLWithPath: out))
        print("token for \(name) (key \(peer.hexString.prefix(16))…, serial \(claims.serial)) admits to run \(runKey.run) until \(claims.expiresAt.iso8601)")
        print("written to \(out); the volunteer joins with: cohort peer --token \(out) --join COORDINATOR:PORT")
    }
}

/// "2026-12-29T10:00:00Z" for milliseconds since the Unix epoch.
