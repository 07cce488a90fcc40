Dva mladí bílí muži jsou venku poblíž mnoha keřů.
Několik mužů v ochranných přilbách obsluhují velký kladkový systém.
Malá dívka leze do dřevěného hračkového domu.
Muž v modrém tričku stojí na žebříku a myje okno.
Dva muži připravují u sporáku jídlo.
Muž v zeleném drží kytaru zatímco další muž pozoruje jeho košili.
Muž se směje na vycpaného lva.
Modní dívka mluví do svého mobilního telefonu zatímco klouzá pomalu po ulici.
Žena s velkou kabelkou jde u brány.
Chlapci tančící na tyčích uprostřed noci.
Baletní třída pěti dívek skákající v řadě.
Čtyři kluci, tři nosící čepice, jeden ne, skáčou z vrcholu schodiště.
Černý a flekatý pes bojují
Muž v neonově zelené a oranžové uniformě řídí zelený traktor.
Několik žen čeká venku ve městě.
Dáma v černém vršku s brýlemi cukruje bábovku.
Malá holčička sedí před velkou namalovanou duhou.
Muž leží na lavičce, ke které je také přivázán bílý pes.
Pět lidí s nástroji sedí v kruhu.
Parta starších lidí hraje společně na klarinety, zatímco čtou noty.
Velká stavba se rozbila a leží na vozovce.
Velký dav lidí stojí venku před vchodem do stanice metra.
Muž si nechává dělat tetování na svá záda.
Dvě děti sedí na malé houpačce v písku.
Muž, který je oblečený do reflexní vesty a ochranné přilby, drží vlajku na silnici.
Osoba oblečená v modrém plášti stojí na rušném chodníku a studuje obraz ulice.
Muž v zelených kalhotách, který jde po ulici.
Malé dítě leze na červená lana na dětském hřišti.
Ty víš, že vypadám jako Justin Bieber.
Mladý muž v černo-žluté bundě na něco zírá a směje se.
Muž, který stojí u pisoáru s hrnkem kávy.
Pět lidí, kteří jdou s barevnou oblohou v pozadí.
Starý muž, který pije sám pivo.
Vycvičený policejní pes sedí vedle svého trenéra před policejní dodávkou.
Osoba, která jede na kole po zasněžené cestě.
Pět mužů, jednotně oblečených v bílé košili, kravatě a černých volných kalhotách hovoří u zadní části otevřené dodávky.
Muž s čepicí kšiltem dozadu pracuje se stroji.
Černá žena a bílý muž pracují v továrně a balí sklenice se svíčkami do krabic.
Asiský muž, který zametá cestu pro pěší.
Muž se naklání do auta a mluví k řidiči a muž na kole se na to dívá.
Dvě mladá batolata, která jsou venku na trávě.
Lidé sledují osobu v divném vozítku na náměstí.
Muž kráčí kolem stříbrného vozidla.
Krásná nevěsta, která jde na chodníku s svým novým manželem.
Malý chlapec hrající kostičky v McDonaldu.
Bílý pes se třese na břehu pláže s oranžovým míčem.
Skupina lidí griluje v parku.
Muž ve slunečních brýlích dává svou paži okolo ženy v černo-bílé halence.
Muž s kloboukem z balónků a lidé, kteří jedí venku u piknikových stolů.
Chlapec překopává dřevo nad třemi dětmi při soutěži v Taekwondu.
Chlapec v červené bundě, který lije vodu na muže v bílém triku.
Muž v červené bundě si stíní před sluníčkem a zkouší číst kus papíru.
Muži, kteří se procházejí ulicí s dětmi.
Malý chlapec stojí na ulici, zatímco muž v montérkách pracuje na kamenné zdi.
Černý pes přeskakuje přes kládu.
Muž v obleku běží okolo dalšího pána, také oblečeného v obleku.
Muž v červeném triku, který jede na svém kole okolo vody.
Bosonohý muž, který má olivově zelené šortky, griluje párky na malém propanovém grilu, zatímco drží modrý plastový hrnek.
Pes běží ve sněhu.
Dav stojí a čeká na zelenou.
Muž na lyžích, který se dívá na umělecká díla k prodeji ve sněhu.
Sedm horolezců stoupá na stěnu, zatímco další muž stojí a drží provaz.
Mladé ohebné tělo gymnastky se vznáší nad kladinou.
Mladý chlapec tlačí hračkovou čtyřkolku okolo gumového bazénu.
Žena v červené větrovce, která se dívá střešním dalekohledem na město dole.
Muž stojí před malým červeným předmětem, který vypadá jako letadlo.
Pes si hraje s hadicí.
Muž a malá dívka šťastně pózující před svým košíkem v supermarketu.
Bílý pes se chystá chytnout žlutou psí hračku.
Muž v zelené mikině s rukou zakrývající část obličeje v restauračním boxu.
Černo-bílý pes skáče směrem ke žluté hračce.
Dva turisté odpočívající u plochy sněhu.
Muž, který ukazuje svůj nový dřevěný výtvor.
Starší otec a jeho dospělý syn připravují na kempování v přírodě.
Vousatý cestovatel v červeném triku, který sedí v autě a čte mapu.
Mladý chlapec mává rukou na kachnu ve vodě obklopené zeleným parkem.
Pár sedí na trávě s miminkem a kočárkem.
Nějací muži stojí před budovou vedle zaparkovaného auta.
Černý pes běží vodou.
Muž vrtá skrz zamrzlý led rybníka.
Dva velcí světlehnědí psi si hrají podél písečné pláže.
Osoba v modrém a červeném šplhá s dvěma cepíny.
Tři lidé, kteří jdou po pěšině na louce.
Muž v černém oděvu odhazuje sníh na ulici, bez ohledu na veřejnou bezpečnost.
Pár stojí za svým svatebním dortem.
Mokrý černý pes nese zelenou hračku trávou.
Vesničané prodávají svou úrodu na trhu.
Na přelidněném koncertě, muž v bílém se přibližuje k hlavnímu zpěvákovi, který nosí žluté triko.
Chlapec skáče na svém skateboardu, zatímco dav se dívá.
Muž a malé dítě jsou ve žlutém kajaku na vodě.
Dva lidé sedí na lavičce a jedna žena stojí u nich.
Staveniště na ulici, kde pracují tři muži.
Dva muži, kteří sedí a hovoří na lavičce s billboardem s reklamou na brýle v pozadí.
Skupina mladých pochoduje po ulici mávajíce vlajkami, které ukazují barevné spektrum.
Tři staří muži sledují dalšího muže jak připravuje rybu.
Žena v bílém tílku se zelenou kolovou sukní, která zpívá píseň na jevišti.
Dva muži a dvě ženy sedící venku na schodech.
Hnědý a černý labrador jsou venku a černý labrador chytá hračku do své huby.
Chlapec v červené bundě, který je hokejový brankář, dřepí u brány s hokejkou.
Muž s batohem sedí na dvorku budovy před uměleckou sochou a čte.
Chlapec v batolecím věku v červeném klobouku držící se nějakých tyčí.
Tři psi stojí v travnatém poli, zatímco osoba klečí nedaleko.
Muž stojí před mrakodrapem.
Žena se prochází se svým dítětem v kočárku v místním parku.
Muž v červeném tričku sedí vedle ovoce na prodej.
Mladý blonďatý chlapec a tmavovlasá dívka jí u dětského stolu.
Chlapec jí své jídlo venku u stolu.
Muž, který nosí černou hraje na koncertě na elektrickou kytaru.
Dívka hrající softball zasáhne míč téměř přímo dolů.
Muž černé košili hraje na černě zbarvenou kytaru.
Muž, který nosí černé triko, uhlazuje beton v městské oblasti.
Žena v bílé košili sedí u stolu v pěkné restauraci.
Žena leží na červené dece v parku.
Osamělý muž stojí večer na mostě.
Dítě jde na travnatém poli.
Muž se psem griluje zelené fazolky.
Tři lidé odpočívají na skalní římse nad horami.
Mnoho lidí přechází velmi vysokou lávku se stromy pokrytým kopcem v pozadí.
Mladý chlapec vyhlížející dav v nafukovacích člunech.
Dvě malé dívky a starý muž diskutují.
Asijský muž a blonďatá žena, kteří se drží venku za ruce, muž v pozadí se dívá.
Starší muž s šedými vlasy sedí na židli a hraje na velký nástroj vyrobený z bambusu.
Muž v bílé košili jede na kole na rušné ulici.
Muž stojí na žebříku a maluje cihly.
Třicátník s telefonem v metru.
Dvě ženy jdou po přechodu a v pozadí je autobus.
Skupina lidí jí nudle.
Žena nese mísu plnou ovoce na své hlavě blízko oceánu.
Chlapík v díře, který je oblečen v modré.
Čtyři děti se smějí, zatímco společně pózují s kolem, které je pro ně moc velké.
Dva jednotlivci, muž a žena, stojící v lesnaté oblasti okolo vany.
Spící miminko je v něčích rukou a má oblečen růžový pruhovaný oděv
Člen afrického kmene pozorně sleduje fotoaparát v kmenových šatech.
Samurajský bojovník v úplně černých šatech vyndavá svůj meč z pochvy na venkovní tréninkové podložce.
Několik mladých lidí, kteří sedí na zábradlí nad přeplněnou pláží.
Pět turistů, jeden je otočený k fotoaparátu a jiní odvráceni od něj, procházejí skalnatým korytem řeky.
Ochranka stojí u kovové osvětlené sochy.
Dvě ženy, jedna v zelené a druhá ve fialové, které umývají chodník.
Dvě dívky dřepí před nějakými keři a mluví do svých mobilních telefonů.
Mladá dívka pestrobarevně oblečená držící oranžový míč ve své pravé ruce a chodící zelenou trávou za domem.
Mladé dítě si hraje s hračkou, zatímco leží na podlaze.
Malý chlapec, který je skateboardista, provádí kousky se svým prknem, zatímco další mladý skateboardista se dívá.
Dvě děti se smějí v trávě.
Mladá žena, která drží lahev, se natahuje z lavičky aby si potřásla mužovou rukou.
Řidič, který komunikuje svou vysílačkou.
Dívka pádlující po velké řece, jak je vidět zezadu.
Dívka s copánky si hraje ve vodě.
Pár ve svetrech sedí u stolu v restauraci.
Pokrm je na stole v restauraci.
Dva stavební dělníci sedí na ocelovém nosníku.
Dítě radostně míchá těsto v misce.
Dvě děti si za slunečného dne hrají s míčem v blátě.
Malá dívka, který se dívá do brožurky o jízdě vlakem.
Dvě ženy sedí a mluví a smějí se společně.
Lidé, kteří společně běží po chodníku v parku.
Malé dítě skáče šipku do bazénu.
Světle zbarvený pes běží po pláži.
Muž si hoví v dřevěném lavóru s vodou, zatímco jí ovoce.
Muž spí na lavičce nedaleko autobusové zastávky.
Malá dívka v červeném triku a džínách šplhá po malém stromě, zatímco další malá dívka se dívá.
Muž spící v autě, které řídí.
Žena v červeném triku je pod dekou a spí ve voze.
Muž v domácí kuchyni obrací palačinku neobyčejně vysoko.
Několik hasičů zareagovalo na poplach.
Několik hasičů stojí venku z budovy blízko hasičského auta.
Pláž s modrými a červenými čluny, s lidmi na břehu.
Muži, kteří mají helmy a bezpečnostní vesty, pracují.
Prodavačka časopisů sedí za velmi barevnou koláží časopisů.
Muž v ochranné přilbě má modré triko a modré džínové lacláče.
V pekárně, tlustý starší pekař spí, zatímco jeho učeň si vytírá mouku z očí a sedí vedle něj.
Skupina mužů bez košile sedí ve stínu na tropické pláži.
Chlapec v modrých plavkách na pláži.
Lyžař má výhled na zasněženou horu.
Chlapec, který má červená triko jede na svém kole vpravo vedle kupy hlíny.
Cyklisté v cyklistickém závodě projíždějí ostrou levou zatáčkou.
Tři chlapci, kteří si hrají a jezdí na hromadě písku uprostřed.
Starší muž s vycházkovou holí se ohýbá blízko muže a ženy.
Doktor a sestra v modrém operačním oblečení operují.
Černo-bílý pes skáče po žluté hračce.
Huňatý pes pronásleduje dobrmana na pláži.
Muž stojí po odvalení bowlingové koule po dráze.
Starý, větrem ošlehaný, vousatý muž, který je oblečený v černém, jede na krásném bílém oslu na bílých kamenech.
Muž a žena dřímající na modré pohovce.
Muž, který nosí žluté triko hází oštěp na dráhu.
Dav sledující horkovzdušné balóny v noci.
Žena si čte časopis přes rameno jiné ženy.
Dva muži dřepí v noci u rozsvícených svíček.
Mladý muž jde rušnou ulicí vedle nákupního střediska.
Malý chlapec jede při závodě na svém kole.
Skupina lidí, která sedí u stolu v potemnělé místnosti.
Muž se dvěma psy na pláži.
Chlapec je pokrytý mýdlovou pěnou a obličej má očištěný.
Tucty lidí se baví na lodi.
Mladá žena na člunu ve světle barevnách bikinách kopá muže nosícího slaměný kovbojský klobouk.
Chlapec, který se klouže po klouzačce do bazénu s barevnými nafukovacími kruhy.
Muž v neoprenu vyhazuje batole do vzduchu a je připraven ho chytit.
Skupina lidí jede vzadu na terénním autě ve vesnické oblasti dolů ulicí.
Dva kuchaři připravují hamburgery v restaurační kuchyni.
Dva malí chlapci se ksichtí.
Osoba s hnědými kalhotami sedí u oplocené oblasti, ve které létají jiskry.
Žena na kopci u bílého kříže, která má vyhlídku na pláž.
Čtyři dívky sedí v trávě, zatímco několik mužů stojí blízko nich.
Muži odhazují sníh ze železnice.
Muž, dívka a dva koně jsou blízko ohně.
Dělníci, kteří nosí reflexní vesty pracují u vlaku.
Starší muž, který se dívá na klasický, venkovský Volkswagen Brouk.
Žena sestavuje bílý kovový rám na chodníku.
Jsou tam tři psi, kteří zírají na míč uprostřed nich.
Muž bez košile a žena sedící na molu.
Muži v bezpečnostních vestách pracují na trati.
Muž spravuje ulici se svým nářadím.
Žena s nazrzlými vlasy, která si nanáší řasenku na své řasy.
Bílý pes má hlavu na zemi.
Žena v modrých šortkách a bílém triku leze na lezecké stěně.
Mnoho skútrů je zaparkováno na chodníku.
Helikoptéra oblastní parkové policie je připravená k přistání.
Muž v reflexní bundě se staví na lešení.
Skupina čtrnácti je shromážděna v hale s jídelním stolem a pódiem.
Dospívající chlapec skáče na nafukovací klouzačce.
Rodina, která si za krásného dne hraje na traktoru.
Starší žena, která smaží jídlo na pánvičce v kuchyni.
Dva lidé se přiblížili k nápadné mladé ženě oblečené v červených bikinách a červené pernaté čelence.
Dva lyžaři projíždí lesem.
Lyžaři na vrcholu zasněženého kopce.
Hnědý pes, který běží vedle trávy.
Žena v zeleném triku a džínách klečí na vstupním schodišti s kávou v ruce, její kabelka je vedle ní a velké dveře za ní, zatímco vyplňuje papíry.
Lidé přechází ulici na městské křižovatce.
Žena, která je oblečená ve světle fialové a má na sobě s korsáž, spíná ruce do klína.
Matka a děti rybaří v noci na promenádě.
Šest mužů, kteří hrají hru v písku s dřevěnými pádly.
Žena v tílku, která je obklopena třemi dětmi, se směje.
Muž v černém triku a černých kalhotách pracuje na motoru ve starém zeleném automobilu s žlutým kanystrem benzínu stojícím na trávě.
Žena v modré bundě jede blízko vody na hnědém poníkovi.
Dva koně táhnou kočár, který je řízený ženou, přes sněhem pokrytou zem.
Osoba, který šplhá dolů po strmém skalním útesu pomocí lana.
Skupina turistů odpočívá před horou.
Žena, která stojí před křídovou kresbou.
Tři mladí dospělí sedí okolo, s dívkou předstírající kopnutí do obličeje jednoho z chlapců, zatímco se smějí, a chlapec za ním vypadá že je uprostřed věty.
Skupina dětí ve třídě s rukama ve vzduchu.
Muž, který je oblečen v plavkách, skáče z betonové plošiny do velkého množství vody.
Žena úzkostlivě pracující s šicím strojem.
Dáma v bílém triku se dívá na osobu s paží zvednutou ve vzduchu.
Dívka, která pracuje na farmářském trhu a prodává papriky.
Starší žena sedí na židli s vycházkovou holí v ruce.
Chlapec vyfoukl čtyři bubliny na trávník.
Malý chlapec si hraje ve vodě.
Pes běžící z tunelu na překážkové dráze.
Žlutý a černo-bílý pes běží v prachu.
Dva muži, kteří grilují na pláži.
Malá dívka v plavkách s květinovým potiskem skáče do oceánu.
Malá dívka v modrých plavkách, která stojí na zábradlí blízko pláže.
Mladý asijský chlapec sedí na ohradě za řadou barevných čepic.
Bílo-černý pes skáče do bazénu.
Chlapec se směje pod vodou v bazénu.
Dva lidé, kteří sedí v restauraci, diskutují.
Několik lidí si dává přestávku při jízdě na sněžném skútru.
Dva lidé, kteří pracují na odklízení sněhu ze střechy.
Mladý muž nosící černé triko bere skládací židle z velkého stohu.
Žena se prochází za soumraku na městské ulici.
Malá dívka s hnědými vlasy fouká do lístků květiny.
Tři lidé venku na čtyřkolce.
Muž na čtyřkolce letí vzduchem.
Muž na čtyřkolce skáče blízko malé budovy.
Žena s tmavými vlasy, která nosí bikiny, sedí na pláži.
Dvě ruce obrací obracečkou nějaké jídlo v lité železné pánvi
Dvě ženy objímající se na travnatém oploceném poli s krávou v pozadí.
Velká loď se přibližuje k doku s dvěma muži, kteří očekávají její příjezd.
Muž v sandálech a bílém svetru sedí na zelené lavičce, zatímco mluví do svého mobilního telefonu.
Muž na pódiu, který zpívá do mikrofónu.
Tři chlapci jedou na slonovi a v pozadí je budova a stromy.
Mexičan sedí pod kapotou svého terénního auta.
Chlapec ve žlutých brýlích a zrzavá dívka pózují před fotoaparátem.
Skupina lidí se shromažďuje a drží různé typy vlajek.
Bílý malý chlapec, který brečí nad hračkou.
Malý chlapec nese na hřišti fotbalový míč.
Žena sledující jak muž vyškrabává zmrzlinu z mrazáku.
Skupina lidí sedí na stoličkách a jedí nějaké jídlo.
Lidé stojí okolo americké vlajky, která je rozvinutá ve špatném směru.
Mladá dívka malující obraz.
Cyklista jede na kole na zatočené silnici na kopec.
Malá dívka v džínové bundě, která běží polem.
Muž v modré košili a černých kalhotách se dívá na svůj palec na jedné ruce, zatímco drží brýle v druhé ruce.
Pár, který se líbá, zatímco jde nahoru po jezdících schodech
Fotbalista v zeleném dresu s míčem v rukou je držen několika svými spoluhráči, zatímco protihráč v červeném sahá po míči.
Muži staví zeď v poušti.
Skupina mladých přátel, kteří jsou nazdobeni barvou na obličej a pernatými čelenkami, sedí na lavičce.
Dáma má černou tašku přes rameno.
Muž v černé bundě stojí se skupinou lidí za sebou.
Černý pes, který skáče, aby chytil provazovou hračku
Mladá dívka se dívá přes starožitnou videokameru.
Dívka ve zvláštních šatech, která si čte brožurku, zatímco sedí na dřevěné verandě.
Muž oblečený v osobitém oděvu hraje na kytaru.
Hokejový brankář se snaží zabránit gólu od protihráčů.
Dospělý a dítě jdou přes den podél pláže.
Muž v zástěře sedí na obrubníku.
Hnědo-bílý pes, který skáče, aby chytil létající talíř, zatímco publikum se dívá.
Dva tenisoví hráči mluví na tenisovém hřišti.
Dva žongléři používající planoucí pochodně vystupují pro dav lidí, který sedí na schodech.
Dvě děti, které běží bez bot.
Nemluvně sedí na hladkých kamenech a hraje si s nimi.
