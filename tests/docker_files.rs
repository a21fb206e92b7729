//! The deployment files in `docker/` (no Docker engine runs here, so they are checked, not
//! run): the compose file is read into its mapping structure (by a hand-written reader of the
//! YAML subset it uses, not a full YAML parser) and must describe a 3-node
//! EventStoreDB cluster and 2 caseledger nodes against it; the Dockerfile must build the
//! README's binary and run `caseledger serve`, with settings the binary actually knows.

use std::collections::BTreeMap;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_caseledger");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// A YAML block-mapping node: scalar text, or nested keys (list items keyed by position).
#[derive(Debug, Default)]
struct Node {
    value: String,
    children: BTreeMap<String, Node>,
}

impl Node {
    fn get(&self, path: &[&str]) -> &Node {
        path.iter().fold(self, |n, k| {
            n.children
                .get(*k)
                .unwrap_or_else(|| panic!("no `{k}` under {:?}", n.children.keys()))
        })
    }
    fn keys(&self) -> Vec<&str> {
        self.children.keys().map(String::as_str).collect()
    }
}

/// Parses the block-style subset of YAML the compose file uses (mappings by indentation,
/// `- item` lists, comments); enough to read its structure without a YAML dependency.
fn parse_yaml(text: &str) -> Node {
    let mut root = Node::default();
    let mut stack: Vec<(usize, Vec<String>)> = vec![];
    let mut counters: BTreeMap<Vec<String>, usize> = BTreeMap::new();
    for raw in text.lines() {
        let line = raw.split(" #").next().unwrap_or("").trim_end();
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = line.len() - trimmed.len();
        while stack.last().is_some_and(|(i, _)| *i >= indent) {
            stack.pop();
        }
        let parent: Vec<String> = stack.last().map(|(_, p)| p.clone()).unwrap_or_default();
        let (key, value) = if let Some(item) = trimmed.strip_prefix("- ") {
            let n = counters.entry(parent.clone()).or_default();
            *n += 1;
            (format!("{}", *n - 1), item.to_owned())
        } else {
            let (k, v) = trimmed.split_once(':').expect("key: value");
            (k.trim().to_owned(), v.trim().to_owned())
        };
        let mut path = parent;
        path.push(key);
        let mut node = &mut root;
        for k in &path {
            node = node.children.entry(k.clone()).or_default();
        }
        node.value = value.trim_matches('"').to_owned();
        stack.push((indent, path));
    }
    root
}

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{ROOT}/{path}")).expect(path)
}

#[test]
fn compose_runs_a_three_node_cluster_and_two_caseledger_nodes() {
    let doc = parse_yaml(&read("docker/compose.yml"));
    let services = doc.get(&["services"]);
    for name in [
        "esdb1",
        "esdb2",
        "esdb3",
        "caseledger1",
        "caseledger2",
        "caseledger-init",
    ] {
        assert!(
            services.children.contains_key(name),
            "service {name}: {:?}",
            services.keys()
        );
    }
    let cluster_env = doc.get(&["x-eventstore-env"]);
    assert_eq!(cluster_env.get(&["EVENTSTORE_CLUSTER_SIZE"]).value, "3");
    assert_eq!(cluster_env.get(&["EVENTSTORE_INSECURE"]).value, "true");
    for (node, others) in [
        ("esdb1", ["esdb2", "esdb3"]),
        ("esdb2", ["esdb1", "esdb3"]),
        ("esdb3", ["esdb1", "esdb2"]),
    ] {
        let svc = services.get(&[node]);
        assert_eq!(svc.get(&["<<"]).value, "*eventstore");
        let seeds = &svc.get(&["environment", "EVENTSTORE_GOSSIP_SEED"]).value;
        for other in others {
            assert!(
                seeds.contains(&format!("{other}:2113")),
                "{node} seeds {other}: {seeds}"
            );
        }
        let volumes = svc.get(&["volumes"]);
        assert_eq!(
            volumes.children.len(),
            2,
            "{node} keeps data and logs on volumes"
        );
        for v in volumes.children.values() {
            let name = v.value.split(':').next().expect("volume");
            assert!(
                doc.get(&["volumes"]).children.contains_key(name),
                "declared volume {name}"
            );
        }
    }
    let health = &doc.get(&["x-eventstore", "healthcheck", "test"]).value;
    assert!(health.contains("/health/live"), "{health}");
    for node in ["caseledger1", "caseledger2"] {
        let svc = services.get(&[node]);
        assert_eq!(svc.get(&["<<"]).value, "*caseledger");
        let store = &svc.get(&["environment", "CASELEDGER_STORE"]).value;
        assert!(store.starts_with("esdb://"), "{store}");
        for db in ["esdb1:2113", "esdb2:2113", "esdb3:2113"] {
            assert!(store.contains(db), "{node} reaches {db}: {store}");
        }
        assert_eq!(svc.get(&["command"]).value, r#"["serve"]"#);
    }
    let readyz = &doc.get(&["x-caseledger", "healthcheck", "test"]).value;
    assert!(readyz.contains("/readyz"), "{readyz}");
}

#[test]
fn dockerfile_builds_the_readme_binary_and_runs_serve() {
    let file = read("docker/Dockerfile");
    let readme = read("README.md");
    assert!(
        readme.contains("cargo build --release"),
        "README's build command"
    );
    let froms: Vec<&str> = file.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(froms.len(), 2, "multi-stage: {froms:?}");
    assert!(froms[0].contains(" AS build"));
    assert!(froms[1].contains("debian:bookworm-slim"));
    let run = file
        .lines()
        .find(|l| l.contains("cargo build"))
        .expect("a cargo build step");
    assert!(run.contains("cargo build --release"), "{run}");
    assert!(
        !run.contains("--no-default-features"),
        "the README's default features: {run}"
    );
    assert!(
        file.contains("COPY --from=build"),
        "the runtime takes the built binary"
    );
    let user = file
        .lines()
        .rfind(|l| l.starts_with("USER "))
        .expect("USER");
    assert!(!user.contains("root"), "non-root: {user}");
    assert!(file.contains("VOLUME [\"/data\"]"));
    assert!(
        file.contains("ENTRYPOINT [\"caseledger\"]")
            && file.contains("CMD [\"serve\", \"--init\"]")
    );
}

#[test]
fn every_setting_the_deployment_uses_is_one_the_binary_knows() {
    let help = Command::new(BIN)
        .args(["serve", "--help"])
        .output()
        .expect("serve --help");
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout).to_string();
    let files = read("docker/Dockerfile") + &read("docker/compose.yml");
    let mut used: Vec<&str> = files
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("CASELEDGER_"))
        .collect();
    used.sort();
    used.dedup();
    assert!(used.contains(&"CASELEDGER_STORE"), "{used:?}");
    for var in used {
        assert!(help.contains(var), "`caseledger serve` does not read {var}");
    }
}

#[test]
fn exactly_one_caseledger_node_accepts_writes() {
    let doc = parse_yaml(&read("docker/compose.yml"));
    let writers: Vec<&str> = ["caseledger1", "caseledger2"]
        .into_iter()
        .filter(|node| {
            let env = &doc.get(&["services", node, "environment"]).children;
            env.get("CASELEDGER_READ_ONLY")
                .is_none_or(|v| v.value.trim_matches('"') != "true")
        })
        .collect();
    assert_eq!(writers, vec!["caseledger1"]);
    // The reading node forwards writes to the writing one, at its in-network address.
    let env = &doc
        .get(&["services", "caseledger2", "environment"])
        .children;
    let forward = env
        .get("CASELEDGER_FORWARD_WRITES")
        .map(|v| v.value.trim_matches('"'));
    assert_eq!(forward, Some("http://caseledger1:8080"));
    let listen = &doc.get(&[
        "services",
        "caseledger1",
        "environment",
        "CASELEDGER_LISTEN",
    ]);
    assert!(listen.value.ends_with(":8080"), "{}", listen.value);
}

#[test]
fn each_caseledger_node_keeps_its_mirror_on_a_volume_of_its_own() {
    let doc = parse_yaml(&read("docker/compose.yml"));
    let mut seen = Vec::new();
    for node in ["caseledger1", "caseledger2"] {
        let svc = doc.get(&["services", node]);
        let mirror = &svc.get(&["environment", "CASELEDGER_ESDB_MIRROR"]).value;
        let dir = mirror.rsplit_once('/').map_or("", |(d, _)| d);
        let volume = svc
            .get(&["volumes"])
            .children
            .values()
            .map(|v| v.value.clone())
            .find(|v| v.ends_with(&format!(":{dir}")))
            .unwrap_or_else(|| panic!("{node}: no writable volume at {dir}"));
        let name = volume.split(':').next().expect("volume name").to_owned();
        assert!(
            doc.get(&["volumes"]).children.contains_key(&name),
            "declared volume {name}"
        );
        assert!(
            !seen.contains(&name),
            "{node} shares the mirror volume {name}"
        );
        seen.push(name);
    }
    let dockerfile = read("docker/Dockerfile");
    assert!(
        dockerfile.contains("chown caseledger:caseledger /data /mirror"),
        "the image's user owns /mirror"
    );
}

#[test]
fn the_eventstoredb_image_is_pinned_and_the_build_context_trimmed() {
    let compose = parse_yaml(&read("docker/compose.yml"));
    let image = &compose.get(&["x-eventstore", "image"]).value;
    let tag = image
        .strip_prefix("eventstore/eventstore:")
        .unwrap_or_else(|| panic!("an EventStoreDB image: {image}"));
    let version = tag.split('-').next().unwrap_or(tag);
    assert_eq!(
        version
            .split('.')
            .filter(|p| p.parse::<u32>().is_ok())
            .count(),
        3,
        "a fixed major.minor.patch release, not a floating tag: {image}"
    );
    // The compose build context is the repository root; without these the daemon is sent
    // gigabytes of build output and the git history.
    let ignore = read(".dockerignore");
    let lines: Vec<&str> = ignore.lines().map(str::trim).collect();
    for needed in ["target/", ".git/"] {
        assert!(
            lines.contains(&needed),
            "`{needed}` in .dockerignore:\n{ignore}"
        );
    }
}

#[test]
fn init_is_done_only_when_it_finished_and_the_api_stays_on_loopback() {
    let doc = parse_yaml(&read("docker/compose.yml"));
    // A half-finished init leaves keys behind: the guard is a marker written after init
    // succeeded, never the keys' presence (the nodes would loop on a half-made log).
    let command = &doc.get(&["services", "caseledger-init", "command"]).value;
    assert!(
        command.contains("test -f /data/.init-done ||")
            && command.contains("caseledger init")
            && command.contains("&& touch /data/.init-done"),
        "{command}"
    );
    assert!(!command.contains("log.key"), "{command}");
    for node in ["caseledger1", "caseledger2"] {
        let ports = doc.get(&["services", node, "ports"]);
        for port in ports.children.values() {
            assert!(
                port.value.trim_matches('"').starts_with("127.0.0.1:"),
                "{node} publishes {} beyond loopback",
                port.value
            );
        }
    }
}

/// The compose witness: the nodes submit to it with its key read from a volume it writes
/// (public, mounted read-only), while its secret key and record are on a volume no node
/// mounts; its commands use flags the binary knows.
#[test]
fn the_nodes_submit_to_a_witness_whose_key_only_it_holds() {
    let doc = parse_yaml(&read("docker/compose.yml"));
    let witness = doc.get(&["services", "witness"]);
    let command = &witness.get(&["command"]).value;
    let volumes = |svc: &Node| -> Vec<String> {
        let list = svc
            .children
            .get("volumes")
            .map(|v| v.children.values().collect::<Vec<_>>());
        list.unwrap_or_default()
            .iter()
            .map(|v| v.value.clone())
            .collect()
    };
    assert!(volumes(witness).contains(&"witness-state:/witness".to_owned()));
    assert!(
        command.contains("caseledger witness init --state /witness --name ")
            && command.contains("caseledger witness key --state /witness > "),
        "{command}"
    );
    assert!(
        command.contains(
            "exec caseledger witness serve --state /witness --listen 0.0.0.0:8090 --log-key "
        ),
        "{command}"
    );
    for node in ["caseledger1", "caseledger2"] {
        let svc = doc.get(&["services", node]);
        let given = &svc.get(&["environment", "CASELEDGER_WITNESS"]).value;
        let (url, file) = given.split_once(' ').expect("URL KEY_FILE");
        assert_eq!(url, "http://witness:8090", "{node}");
        // The file the witness wrote its key to, on a volume mounted read-only.
        assert!(
            command.contains(&format!("mv {file}.tmp {file}")),
            "{command}"
        );
        // Its cosignatures in a file of its own, on a volume it writes.
        let kept = &svc.get(&["environment", "CASELEDGER_COSIGNATURES"]).value;
        let kept_dir = kept.rsplit_once('/').expect("a path").0;
        let mirror = &svc.get(&["environment", "CASELEDGER_ESDB_MIRROR"]).value;
        assert_eq!(
            Some(kept_dir),
            mirror.rsplit_once('/').map(|(d, _)| d),
            "{node}"
        );
        let dir = file.rsplit_once('/').expect("a path").0;
        let mounted = volumes(svc);
        let volume = mounted
            .iter()
            .find(|v| v.ends_with(&format!(":{dir}:ro")))
            .unwrap_or_else(|| panic!("{node}: {dir} not mounted read-only: {mounted:?}"));
        assert!(volumes(witness).contains(&volume.trim_end_matches(":ro").to_owned()));
        assert!(
            !mounted.iter().any(|v| v.starts_with("witness-state:")),
            "{node}"
        );
    }
    for (sub, flags) in [
        ("init", &["--state", "--name"][..]),
        ("key", &["--state"][..]),
        ("serve", &["--state", "--listen", "--log-key"][..]),
    ] {
        let help = Command::new(BIN)
            .args(["witness", sub, "--help"])
            .output()
            .expect("help");
        let help = String::from_utf8_lossy(&help.stdout).to_string();
        for flag in flags {
            assert!(
                help.contains(flag),
                "`caseledger witness {sub}` has no {flag}"
            );
        }
    }
    let dockerfile = read("docker/Dockerfile");
    assert!(dockerfile.contains("chown caseledger:caseledger /data /mirror /witness /witness-pub"));
}
