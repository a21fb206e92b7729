//! What any client may reach without a role: health and metrics; and how the routing
//! answers a path it knows with another method (405) or one it does not know (404).

use crate::helpers::spawn_app;

#[test]
fn health_and_metrics_are_public() {
    let app = spawn_app();
    assert_eq!(app.get("/healthz", None).status, 200);
    let ready = app.get("/readyz", None);
    assert_eq!(ready.status, 200);
    assert_eq!(ready.json["log_size"], app.log_size());
    assert_eq!(ready.json["reports"], "following");
    let m = app.get("/metrics", None);
    assert!(m.text.contains("caseledger_appended_events_total"));
    // The whole log, the genesis entries `init` wrote included, not only this process's.
    let gauge = |text: &str| -> Option<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix("caseledger_log_size "))
            .and_then(|v| v.trim().parse().ok())
    };
    assert_eq!(gauge(&m.text), Some(app.log_size()), "{}", m.text);
    app.register_agency("metrics-agency");
    assert_eq!(gauge(&app.get("/metrics", None).text), Some(app.log_size()));
    assert_eq!(app.get("/v1/nothing", None).code(), "not_found");
}

#[test]
fn a_failed_commit_makes_the_node_unready_until_one_succeeds() {
    let app = spawn_app();
    // As the writer records a group commit the store refused (a full disk).
    app.ledger.metrics().commit_failed();
    let ready = app.get("/readyz", None);
    assert_eq!((ready.status, ready.code()), (503, "unavailable"));
    assert!(ready.json["detail"]
        .as_str()
        .is_some_and(|d| d.starts_with("not ready: a write to the store failed")));
    let m = app.get("/metrics", None);
    assert!(m.text.contains("caseledger_commit_failing 1"), "{}", m.text);
    app.register_agency("after-the-failure");
    assert_eq!(app.get("/readyz", None).status, 200);
}

#[test]
fn a_known_path_with_another_method_is_405_with_allow() {
    let app = spawn_app();
    for (method, path, allow) in [
        ("POST", "/v1/log/checkpoint", "GET, HEAD"),
        ("GET", "/v1/events", "POST"),
        ("HEAD", "/v1/events", "POST"),
        (
            "DELETE",
            "/v1/cases/0196b7c2-4a55-7d3e-9f10-2b6c1d4e5f60",
            "GET, HEAD",
        ),
        ("PUT", "/v1/principals/admin/tokens", "POST"),
    ] {
        let resp = match ureq::request(method, &app.url(path)).call() {
            Err(ureq::Error::Status(_, resp)) => resp,
            other => panic!("{method} {path}: {:?}", other.map(|r| r.status())),
        };
        assert_eq!(resp.status(), 405, "{method} {path}");
        assert_eq!(resp.header("allow"), Some(allow), "{method} {path}");
        if method == "HEAD" {
            continue;
        }
        let r = caseledger_api_resp(resp);
        assert_eq!(r.content_type, "application/problem+json");
        assert_eq!(r.code(), "method_not_allowed", "{}", r.text);
        assert!(r.text.contains(&format!("not {method}")), "{}", r.text);
    }
    // An unknown path stays 404.
    assert_eq!(app.get("/v1/nothing", None).code(), "not_found");
}

/// A ureq response read as the helpers read one.
fn caseledger_api_resp(resp: ureq::Response) -> crate::helpers::Resp {
    crate::helpers::to_resp(Err(ureq::Error::Status(resp.status(), resp)))
}

#[test]
fn every_listed_route_is_served_by_its_method() {
    // The 405 table must follow the routes: each pair reaches a handler (whatever it then
    // answers without a token or with placeholder ids), never the fallback.
    let app = spawn_app();
    for (method, pattern) in caseledger::http::ROUTES {
        let path: String = pattern
            .split('/')
            .map(|part| if part.starts_with('{') { "x" } else { part })
            .collect::<Vec<_>>()
            .join("/");
        let r = match *method {
            "GET" => app.get(&path, None),
            _ => app.post_raw(&path, None, b"{}"),
        };
        assert_ne!(r.status, 405, "{method} {path}: {}", r.text);
        let fallback = r.json["detail"] == "no such endpoint";
        assert!(!fallback, "{method} {path} is not routed: {}", r.text);
    }
}

#[test]
fn head_is_answered_as_get_without_a_body() {
    let app = spawn_app();
    for path in ["/v1/log/checkpoint", "/v1/log/key", "/healthz"] {
        let get = app.get(path, None);
        let head = ureq::request("HEAD", &app.url(path)).call().expect(path);
        assert_eq!(head.status(), 200, "{path}");
        assert_eq!(head.header("content-type"), Some(get.content_type.as_str()));
        let length = head.header("content-length").map(str::to_owned);
        assert_eq!(length, Some(get.text.len().to_string()), "{path}");
        assert_eq!(head.into_string().expect("body"), "", "{path}");
    }
    // The same refusals as GET: a reader's endpoint without a token.
    match ureq::request("HEAD", &app.url("/v1/log/entries")).call() {
        Err(ureq::Error::Status(401, _)) => {}
        other => panic!("{:?}", other.map(|r| r.status())),
    }
}

#[test]
fn query_parameters_an_endpoint_does_not_take_are_refused() {
    let app = spawn_app();
    let admin = Some(app.admin_token.as_str());
    for path in [
        "/v1/log/checkpoint?size=3",
        "/v1/log/key?x=1",
        "/v1/agencies?x=1",
        "/v1/agencies/nowhere?x=1",
        "/v1/schemas?x=1",
        "/v1/schemas/case.opened?x=1",
        "/v1/cases/0196b7c2-4a55-7d3e-9f10-2b6c1d4e5f60?x=1",
        "/v1/cases/0196b7c2-4a55-7d3e-9f10-2b6c1d4e5f60/consent-trail?x=1",
    ] {
        let r = app.get(path, admin);
        assert_eq!(
            (r.status, r.code()),
            (400, "bad_request"),
            "{path}: {}",
            r.text
        );
        assert!(r.json["detail"]
            .as_str()
            .is_some_and(|d| d.contains("takes no query")));
    }
    // The token endpoint takes its request in the body only.
    let before = app.log_size();
    let r = app.post_raw("/v1/principals/admin/tokens?x=1", admin, b"");
    assert_eq!((r.status, r.code()), (400, "bad_request"), "{}", r.text);
    assert_eq!(app.log_size(), before, "no token was issued");
    // Without them, the same endpoints answer.
    assert_eq!(app.get("/v1/log/checkpoint", None).status, 200);
    assert_eq!(app.get("/v1/agencies", admin).status, 200);
}

#[test]
fn a_malformed_number_in_a_query_is_refused_naming_its_parameter() {
    let app = spawn_app();
    let (_, aud) = app.register_principal("aud-q", "operator", &["auditor"]);
    for (path, name) in [
        ("/v1/log/proof/inclusion?index=-1&size=1", "index"),
        ("/v1/log/proof/inclusion?index=0&size=x", "size"),
        ("/v1/log/proof/consistency?from=1.5&to=2", "from"),
        ("/v1/log/proof/consistency?from=1&to=", "to"),
        ("/v1/log/entries?start=ten", "start"),
        ("/v1/log/entries?limit=-5", "limit"),
        ("/v1/streams/principal-admin?from=%2B1", "from"),
        (
            "/v1/streams/principal-admin?limit=99999999999999999999",
            "limit",
        ),
    ] {
        let r = app.get(path, Some(&aud));
        assert_eq!(
            (r.status, r.code()),
            (400, "bad_request"),
            "{path}: {}",
            r.text
        );
        let detail = r.json["detail"].as_str().unwrap_or_default();
        assert!(
            detail.starts_with(&format!("{name} must be")),
            "{path}: {detail}"
        );
    }
}

#[test]
fn a_stream_that_does_not_exist_is_404_whatever_page_is_asked() {
    let app = spawn_app();
    let (_, aud) = app.register_principal("aud-s", "operator", &["auditor"]);
    for path in [
        "/v1/streams/agency-nope",
        "/v1/streams/agency-nope?from=3",
        "/v1/streams/case-0196b7c2-4a55-7d3e-9f10-2b6c1d4e5f60?from=1",
        "/v1/streams/principal-nobody?from=1&limit=5",
    ] {
        let r = app.get(path, Some(&aud));
        assert_eq!(
            (r.status, r.code()),
            (404, "not_found"),
            "{path}: {}",
            r.text
        );
    }
    // A stream that exists, read past its end: an empty page.
    let r = app.get("/v1/streams/principal-admin?from=1000", Some(&aud));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["entries"].as_array().map(Vec::len), Some(0));
}
