import NIOHTTP1

/// The dashboard's routes: which page a request asks for, decided from its method and target
/// alone, before the status is fetched.
enum DashboardRoute: Equatable {
    /// `GET /`: the HTML dashboard.
    case page
    /// `GET /api/status`: the status as JSON.
    case statusJSON
    /// `GET /api/rounds?since=STEP&limit=N`: a page of the round journal as JSON.
    case rounds(RoundsQuery)
    /// `GET /metrics`: Prometheus text exposition.
    case metrics
    /// A known path whose query is invalid, with the reason.
    case badRequest(String)
    /// A known path asked for with a method other than GET.
    case methodNotAllowed
    /// Any other path.
    case notFound

    init(method: HTTPMethod, uri: String) {
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let query = parts.count == 2 ? parts[1] : ""
        let route: DashboardRoute
        switch parts.first ?? "" {
        case "/", "/index.html": route = .page
        case "/api/status": route = .statusJSON
        case "/api/rounds":
            do throws(RoundsQuery.Invalid) {
                route = .rounds(try RoundsQuery(parsing: query))
            } catch {
                route = .badRequest(error.reason)
            }
        case "/metrics": route = .metrics
        default:
            self = .notFound
            return
        }
        self = method == .GET ? route : .methodNotAllowed
    }
}

/// A complete response the server writes in one go: every dashboard answer is small.
struct DashboardResponse {
    var status: HTTPResponseStatus
    var contentType: String
    var body: String
    /// Extra header fields, such as `Allow` on a 405.
    var extraHeaders: [(String, String)] = []

    static func plainText(_ status: HTTPResponseStatus, _ message: String) -> DashboardResponse {
        DashboardResponse(status: status, contentType: "text/plain; charset=utf-8", body: message + "\n")
    }

    static let notFound = plainText(.notFound, "not found: the dashboard serves /, /api/status, /api/rounds and /metrics")
    static let methodNotAllowed = DashboardResponse(
        status: .methodNotAllowed, contentType: "text/plain; charset=utf-8",
        body: "method not allowed: the dashboard only answers GET\n", extraHeaders: [("Allow", "GET")])
    static let payloadTooLarge = plainText(.payloadTooLarge, "request too large")
}
