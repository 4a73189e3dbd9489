//! A service on in-memory ports with a settable clock, and what the tests do with it.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use portcullis_argon2::{Argon2Hasher, Argon2Settings};
use portcullis_domain::network::NewIpPolicy;
use portcullis_domain::one_time::{OneTimePolicy, OneTimeSecrets};
use portcullis_domain::templates::MailBranding;
use portcullis_domain::{
    Account, AuthDeps, AuthService, ClientInfo, Email, JwtKeys, Limit, LoginId, ManualClock, MfaKeyring, MfaSettings,
    OsRandom, OutgoingMail, Password, PasswordPolicy, Presented, Principal, Quota, RegisterError, Registered,
    Registration, SecondFactor, ServerKey, Tenant, TenantId, TokenPair, TokenPolicy, Username, UsernamePolicy,
};
use portcullis_memory::{ListedPasswords, MemoryStore};
use portcullis_ratelimit::{GovernorLimiter, LimiterSettings};

pub const PASSWORD: &str = "correct horse battery staple";
pub const HOME: &str = "203.0.113.7";
pub const AWAY: &str = "198.51.100.9";

/// How a world is set up.
#[derive(Debug, Clone)]
pub struct Setup {
    pub verify_email: bool,
    pub new_ip: NewIpPolicy,
    pub quotas: Vec<(Limit, Quota)>,
    pub backoff: Option<portcullis_domain::limits::Backoff>,
    /// The hasher's settings (default: tiny parameters, two threads).
    pub hashing: Option<Argon2Settings>,
    /// The key TOTP secrets are sealed with.
    pub mfa_key: [u8; 32],
    /// Keys that open TOTP secrets sealed before a rotation.
    pub previous_mfa_keys: Vec<[u8; 32]>,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            verify_email: false,
            new_ip: NewIpPolicy::Off,
            quotas: Vec::new(),
            backoff: None,
            hashing: None,
            mfa_key: [7u8; 32],
            previous_mfa_keys: Vec::new(),
        }
    }
}

/// The service, its store and its clock.
pub struct World {
    pub auth: AuthService,
    pub store: MemoryStore,
    /// Where the avatars' bytes are.
    pub blobs: portcullis_memory::MemoryBlobs,
    pub clock: Arc<ManualClock>,
    pub tenant: Tenant,
}

fn key(byte: u8) -> ServerKey {
    ServerKey::new(vec![byte; 32]).expect("a 32-byte key")
}

impl World {
    pub fn new() -> Self {
        Self::with(Setup::default())
    }

    pub fn with(setup: Setup) -> Self {
        let clock = Arc::new(ManualClock::new(
            Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).single().expect("a time"),
        ));
        let store = MemoryStore::new().with_clock(clock.clone());
        Self::on(setup, store, clock)
    }

    /// Another service, set up as `setup` says, on this world's store and clock: a node
    /// configured differently.
    pub fn sharing(&self, setup: Setup) -> Self {
        Self::on(setup, self.store.clone(), self.clock.clone())
    }

    fn on(setup: Setup, store: MemoryStore, clock: Arc<ManualClock>) -> Self {
        let hasher = Argon2Hasher::start(setup.hashing.unwrap_or(Argon2Settings {
            m_cost_kib: 64,
            t_cost: 1,
            p_cost: 1,
            threads: 2,
            ..Argon2Settings::default()
        }))
        .expect("hasher");
        let mut settings = LimiterSettings::default();
        if let Some(backoff) = setup.backoff {
            settings.backoffs.push((Limit::FailedLogin, backoff));
        }
        let limiter = GovernorLimiter::with_settings(setup.quotas, &settings, clock.clone());
        let server_key = key(1);
        let mfa = MfaSettings {
            keys: MfaKeyring {
                previous_keys: setup.previous_mfa_keys.iter().map(|k| (*k).into()).collect(),
                ..MfaKeyring::single(setup.mfa_key)
            },
            hash_key: server_key.clone(),
            issuer: "Portcullis".to_owned(),
            max_failures: 5,
            lockout: Duration::minutes(15),
        };
        let blobs = portcullis_memory::MemoryBlobs::new();
        let deps = AuthDeps {
            store: Arc::new(store.clone()),
            hasher: Arc::new(hasher),
            screen: Arc::new(ListedPasswords::new(["password123", "123456789", "qwertyuiop"])),
            clock: clock.clone(),
            rng: Arc::new(OsRandom),
            keys: Arc::new(JwtKeys::from_ed25519_seed(&[3u8; 32], &[]).expect("keys")),
            refresh_key: server_key.clone(),
            policy: TokenPolicy::default(),
            one_time: OneTimeSecrets::new(server_key, OneTimePolicy::default()),
            branding: MailBranding {
                product: "Portcullis".to_owned(),
                verify_email_url: "https://app.example/verify?token={token}".to_owned(),
                change_email_url: "https://app.example/email?token={token}".to_owned(),
                reset_password_url: "https://app.example/reset?token={token}".to_owned(),
                authorize_ip_url: "https://app.example/ip?token={token}".to_owned(),
            },
            require_email_verification: setup.verify_email,
            mfa,
            new_ip_policy: setup.new_ip,
            limiter: Arc::new(limiter),
            unverified_account_ttl: Duration::days(7),
            audit_retention: Duration::days(180),
            site_url_template: "https://{customer_id}.{domain}".to_owned(),
            images: Arc::new(portcullis_images::AvatarProcessor::new(
                portcullis_images::ImageSettings::default(),
            )),
            avatars: Arc::new(portcullis_domain::avatars::BlobAvatars::new(
                Arc::new(store.clone()),
                Arc::new(blobs.clone()),
            )),
        };
        Self {
            auth: AuthService::new(deps),
            store,
            blobs,
            clock,
            tenant: Tenant {
                id: TenantId::DEFAULT,
                slug: "default".to_owned(),
            },
        }
    }

    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// A client at `ip`.
    pub fn from(ip: &str) -> ClientInfo {
        ClientInfo {
            ip: Some(ip.parse::<IpAddr>().expect("an IP")),
            user_agent: Some("tests".to_owned()),
            request_id: Some("test-request".to_owned()),
        }
    }

    pub fn password(text: &str) -> Password {
        PasswordPolicy::default().parse(text).expect("a valid password")
    }

    pub fn email(text: &str) -> Email {
        Email::parse(text).expect("a valid address")
    }

    pub fn username(text: &str) -> Username {
        UsernamePolicy::default().parse(text).expect("a valid username")
    }

    pub fn registration(&self, email: &str, password: &str, username: Option<&str>) -> Registration {
        Registration {
            tenant: self.tenant.clone(),
            email: Self::email(email),
            password: Self::password(password),
            username: username.map(Self::username),
        }
    }

    /// Registers from home, as a client would.
    pub async fn register(
        &self,
        email: &str,
        password: &str,
        username: Option<&str>,
    ) -> Result<Registered, RegisterError> {
        self.auth
            .register(self.registration(email, password, username), &Self::from(HOME))
            .await
    }

    /// Registers an active account (email verification off) from home.
    pub async fn signed_up(&self, email: &str) -> (Account, TokenPair) {
        match self.register(email, PASSWORD, None).await.expect("register") {
            Registered::Active(account, pair) => (account, pair),
            Registered::MailSent => panic!("email verification is off in this world"),
        }
    }

    /// Registers with email verification on (the answer is always `MailSent`) and lets the
    /// worker fulfil it.
    pub async fn registered(&self, email: &str, password: &str, username: Option<&str>, ip: &str) {
        let answer = self
            .auth
            .register(self.registration(email, password, username), &Self::from(ip))
            .await
            .expect("register");
        assert!(
            matches!(answer, Registered::MailSent),
            "email verification is on in this world"
        );
        self.work().await;
    }

    pub async fn login(
        &self,
        email: &str,
        password: &str,
        factor: Option<&SecondFactor>,
        ip: &str,
    ) -> Result<(Account, TokenPair), portcullis_domain::LoginError> {
        self.auth
            .login(
                &self.tenant,
                &LoginId::parse(email).expect("a login"),
                &PasswordPolicy::default().parse_for_check(password).expect("a password"),
                factor,
                &Self::from(ip),
            )
            .await
    }

    pub async fn principal(&self, pair: &TokenPair) -> Principal {
        self.auth
            .authenticate(&pair.access_token)
            .await
            .expect("a live session")
    }

    /// Runs the mail worker's request steps until nothing waits.
    pub async fn work(&self) {
        while self.auth.fulfil_registration_requests(10).await.expect("registrations") > 0 {}
        while self.auth.fulfil_mail_requests(10).await.expect("mail requests") > 0 {}
    }

    /// Every mail queued so far, oldest first.
    pub async fn mails(&self) -> Vec<OutgoingMail> {
        self.store.outbox().await.into_iter().map(|(mail, _)| mail).collect()
    }

    /// The newest mail to `to`.
    pub async fn last_mail_to(&self, to: &str) -> OutgoingMail {
        self.mails()
            .await
            .into_iter()
            .rev()
            .find(|m| m.to == to)
            .unwrap_or_else(|| panic!("no mail to {to}"))
    }

    /// The link token and the code in a mail.
    pub fn secrets_in(mail: &OutgoingMail) -> (String, String) {
        let text = &mail.text;
        let token: String = text
            .find("pcl_")
            .map(|i| {
                text[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                    .collect()
            })
            .expect("a link token in the mail");
        let code = text
            .split(|c: char| !c.is_ascii_digit())
            .find(|w| w.len() == 6)
            .expect("a six-digit code in the mail")
            .to_owned();
        (token, code)
    }

    pub fn token(&self, token: &str) -> Presented {
        Presented::Token {
            tenant: self.tenant.id,
            token: token.to_owned(),
        }
    }

    pub fn code(&self, email: &str, code: &str) -> Presented {
        Presented::Code {
            tenant: self.tenant.id,
            email: Self::email(email),
            code: code.to_owned(),
        }
    }

    /// The TOTP code of `secret` (base32) at the world's time.
    pub fn totp_code(&self, secret_base32: &str) -> String {
        let totp = totp_rs::Builder::new()
            .with_secret(base32_decode(secret_base32))
            .build()
            .expect("a TOTP");
        totp.generate(u64::try_from(self.clock_now().timestamp()).expect("after 1970"))
            .to_string()
    }

    pub fn clock_now(&self) -> chrono::DateTime<Utc> {
        use portcullis_domain::Clock as _;
        self.clock.now()
    }
}

/// RFC 4648 base32, as authenticator apps read the shown secret.
fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut count, mut out) = (0u64, 0u32, Vec::new());
    for c in text.bytes().filter(|c| *c != b'=') {
        let value = ALPHABET.iter().position(|a| *a == c).expect("base32");
        bits = (bits << 5) | u64::try_from(value).expect("small");
        count += 5;
        if count >= 8 {
            count -= 8;
            out.push(u8::try_from((bits >> count) & 0xff).expect("a byte"));
        }
    }
    out
}
