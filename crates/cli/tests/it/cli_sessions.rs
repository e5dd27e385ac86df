use crate::both_backends;
use crate::harness::TestEnv;
use crate::server::{Server, get};

/// Signs in through the server's pages with a raw HTTP client; returns the session cookie.
fn sign_in(port: u16, username: &str, password: &str) -> String {
    let flow = http(port, "GET", "/login", None, "");
    let flow_cookie = cookie(&flow.0, "gatehouse_flow");
    let csrf = csrf(&flow.1);
    let jar = format!("gatehouse_flow={flow_cookie}");
    http(
        port,
        "POST",
        "/login",
        Some(&jar),
        &format!("identifier={username}&csrf_token={csrf}"),
    );
    let done = http(
        port,
        "POST",
        "/login/password",
        Some(&jar),
        &format!("password={password}&csrf_token={csrf}"),
    );
    cookie(&done.0, "gatehouse_session")
}

fn http(port: u16, method: &str, path: &str, cookies: Option<&str>, body: &str) -> (String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut req = format!("{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n");
    if let Some(c) = cookies {
        req.push_str(&format!("Cookie: {c}\r\n"));
    }
    if method == "POST" {
        req.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    (head.to_string(), body.to_string())
}

fn cookie(head: &str, name: &str) -> String {
    head.lines()
        .filter_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .find_map(|c| {
            c.strip_prefix(&format!("{name}="))
                .map(|v| v.split(';').next().unwrap().to_string())
        })
        .unwrap_or_else(|| panic!("no {name} cookie in {head}"))
}

fn csrf(body: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = body.find(marker).unwrap() + marker.len();
    body[start..start + body[start..].find('"').unwrap()].to_string()
}

fn portal_status(port: u16, session: &str) -> u16 {
    let (head, _) = http(
        port,
        "GET",
        "/if/user/",
        Some(&format!("gatehouse_session={session}")),
        "",
    );
    head.split_whitespace().nth(1).unwrap().parse().unwrap()
}

both_backends!(session_commands, |env: &TestEnv| {
    env.ok(&["user", "create", "alice", "alice@example.com"]);
    env.run_with_stdin(&["user", "password", "alice", "--stdin"], "Session-Test-Pass-1\n");
    let server = Server::start(env);
    let first = sign_in(server.port, "alice", "Session-Test-Pass-1");
    let second = sign_in(server.port, "alice", "Session-Test-Pass-1");
    assert_eq!(portal_status(server.port, &first), 200);

    let listed = env.json(&["session", "list", "alice"]);
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["username"], "alice");
    assert!(
        listed[0].get("token_hash").is_none() && !listed[0].to_string().contains(&first),
        "no token material listed"
    );
    assert!(env.ok(&["session", "list"]).contains("alice"));
    env.fails(&["session", "list", "nobody"], 2);

    // Revoke one by id: exactly that one ends.
    let id = listed[0]["id"].as_str().unwrap().to_string();
    assert!(env.ok(&["session", "revoke", &id]).contains("revoked session"));
    let alive = [portal_status(server.port, &first), portal_status(server.port, &second)];
    assert_eq!(alive.iter().filter(|s| **s == 200).count(), 1, "{alive:?}");
    env.fails(&["session", "revoke", &id], 2);
    env.fails(&["session", "revoke", "not-a-uuid"], 2);
    assert_eq!(env.run(&["session", "revoke"]).status.code(), Some(2));
    // Revoke the rest by user.
    assert!(
        env.ok(&["session", "revoke", "--user", "alice"])
            .contains("revoked 1 session")
    );
    assert_eq!(portal_status(server.port, &first), 303);
    assert_eq!(portal_status(server.port, &second), 303);
    env.fails(&["session", "revoke", "--user", "nobody"], 2);
    let events = env.ok(&["--json", "events", "--action", "session_revoked"]);
    assert!(events.contains("cli:tester"), "{events}");
    let _ = get(server.port, "/-/health/live/");
    server.stop();
});

#[test]
fn branding_title_and_logo() {
    let env = TestEnv::sqlite();
    let logo = env.path().join("logo.svg");
    std::fs::write(&logo, "<svg xmlns=\"http://www.w3.org/2000/svg\"/>").unwrap();
    let server = Server::start_with(&env, |c| {
        c.env("GATEHOUSE_BRANDING_TITLE", "Acme <Stack>")
            .env("GATEHOUSE_BRANDING_LOGO", &logo);
    });
    let (code, _, body) = get(server.port, "/login").unwrap();
    assert_eq!(code, 200);
    assert!(
        body.contains("Acme &#60;Stack&#62;") && !body.contains("<Stack>"),
        "escaped title: {body}"
    );
    assert!(body.contains("/-/branding/logo"), "{body}");
    let (code, head, body) = get(server.port, "/-/branding/logo").unwrap();
    assert_eq!(code, 200);
    assert!(head.to_lowercase().contains("content-type: image/svg+xml"), "{head}");
    assert!(body.contains("<svg"));
    server.stop();

    let mut bad = TestEnv::sqlite();
    bad.extra
        .insert("GATEHOUSE_BRANDING_LOGO".into(), "/nonexistent/logo.png".into());
    let err = bad.fails(&["server"], 2);
    assert!(err.contains("GATEHOUSE_BRANDING_LOGO"), "{err}");
}
