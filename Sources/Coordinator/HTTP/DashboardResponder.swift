import Logging

/// Turns a routed request into its response: fetches the status only for the routes that show
/// it, and renders it as the page, JSON or the Prometheus exposition; pages of older rounds
/// come from the rounds provider (the journal on disk).
struct DashboardResponder: Sendable {
    let statusProvider: @Sendable () async -> CoordinatorStatus
    let roundsProvider: @Sendable (RoundsQuery) async throws -> RoundPage
    let metrics: DashboardMetrics
    let logger: Logger

    func response(for route: DashboardRoute) async -> DashboardResponse {
        switch route {
        case .notFound:
            return .notFound
        case .methodNotAllowed:
            return .methodNotAllowed
        case .badRequest(let reason):
            return .plainText(.badRequest, reason)
        case .page:
            let page = DashboardPage(status: await statusProvider())
            return DashboardResponse(status: .ok, contentType: "text/html; charset=utf-8", body: page.html)
        case .statusJSON:
            return json(await statusProvider(), describing: "the status")
        case .rounds(let query):
            do {
                return json(try await roundsProvider(query), describing: "the rounds")
            } catch {
                logger.warning("could not read the round journal", metadata: ["error": "\(error)"])
                return .plainText(.serviceUnavailable, "the round history cannot be read now")
            }
        case .metrics:
            let exposition = await metrics.exposition(of: await statusProvider())
            return DashboardResponse(status: .ok, contentType: "text/plain; version=0.0.4; charset=utf-8",
                                     body: exposition)
        }
    }

    /// `value` as `/api/status` and `/api/rounds` serve JSON (snake_case, non-finite numbers as strings).
    private func json(_ value: some Encodable, describing what: String) -> DashboardResponse {
        do {
            let data = try CoordinatorStatus.statusJSONEncoder().encode(value)
            return DashboardResponse(status: .ok, contentType: "application/json",
                                     body: String(decoding: data, as: UTF8.self))
        } catch {
            logger.warning("could not encode \(what)", metadata: ["error": "\(error)"])
            return .plainText(.internalServerError, "could not encode \(what)")
        }
    }
}
