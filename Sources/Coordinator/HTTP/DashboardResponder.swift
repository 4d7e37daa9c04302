import Logging

/// Turns a routed request into its response: fetches the status only for the routes that show
/// it, and renders it as the page, JSON or the Prometheus exposition.
struct DashboardResponder: Sendable {
    let statusProvider: @Sendable () async -> CoordinatorStatus
    let metrics: DashboardMetrics
    let logger: Logger

    func response(for route: DashboardRoute) async -> DashboardResponse {
        switch route {
        case .notFound:
            return .notFound
        case .methodNotAllowed:
            return .methodNotAllowed
        case .page:
            let page = DashboardPage(status: await statusProvider())
            return DashboardResponse(status: .ok, contentType: "text/html; charset=utf-8", body: page.html)
        case .statusJSON:
            return statusJSON(await statusProvider())
        case .metrics:
            let exposition = await metrics.exposition(of: await statusProvider())
            return DashboardResponse(status: .ok, contentType: "text/plain; version=0.0.4; charset=utf-8",
                                     body: exposition)
        }
    }

    private func statusJSON(_ status: CoordinatorStatus) -> DashboardResponse {
        do {
            let data = try CoordinatorStatus.statusJSONEncoder().encode(status)
            return DashboardResponse(status: .ok, contentType: "application/json",
                                     body: String(decoding: data, as: UTF8.self))
        } catch {
            logger.warning("could not encode the coordinator status", metadata: ["error": "\(error)"])
            return .plainText(.internalServerError, "could not encode the status")
        }
    }
}
